//! What the page needs to sign operators in through the organisation's
//! OpenID provider, from this function's environment: the issuer and the
//! dashboard's client id, served as `GET /assets/config.json`, and the
//! provider's origins, which the Content-Security-Policy lets the page call
//! (discovery and the token endpoint) and nothing else.
//!
//! Read from the environment rather than compiled in, so one build serves
//! any provider: `OIDC_ISSUER`, `OIDC_CLIENT_ID` (by default
//! `OIDC_AUDIENCE`), and `OIDC_TOKEN_ORIGIN` for a provider whose token
//! endpoint is on another origin than its issuer (Cognito's hosted domain,
//! Google's `oauth2.googleapis.com`).

use serde_json::json;

/// The page's sign-in settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// `OIDC_ISSUER`, exactly as the ID tokens' `iss` names it; `None` when
    /// sign-in is not configured (or misconfigured: see `problem`).
    pub issuer: Option<String>,
    /// The dashboard's client id at the provider.
    pub client_id: Option<String>,
    /// The provider's origins the page may call.
    pub origins: Vec<String>,
    /// Why sign-in is not available, in words for whoever deploys it.
    pub problem: Option<String>,
}

impl SignIn {
    /// The settings these variables give; `var` answers with a variable's
    /// value, `None` for an unset or empty one.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let unavailable = |problem: &str| Self {
            issuer: None,
            client_id: None,
            origins: Vec::new(),
            problem: Some(problem.to_owned()),
        };
        let Some(issuer) = var("OIDC_ISSUER") else {
            return unavailable("Sign-in is not configured: set OIDC_ISSUER.");
        };
        let Some(issuer_origin) = origin(&issuer) else {
            return unavailable("Sign-in is not configured: OIDC_ISSUER is not an http(s) URL.");
        };
        let Some(client_id) = var("OIDC_CLIENT_ID").or_else(|| var("OIDC_AUDIENCE")) else {
            return unavailable(
                "Sign-in is not configured: set OIDC_CLIENT_ID (or OIDC_AUDIENCE).",
            );
        };
        let mut origins = vec![issuer_origin];
        if let Some(extra) = var("OIDC_TOKEN_ORIGIN") {
            match origin(&extra) {
                Some(extra) if !origins.contains(&extra) => origins.push(extra),
                Some(_) => {}
                None => {
                    return unavailable(
                        "Sign-in is not configured: OIDC_TOKEN_ORIGIN is not an http(s) URL.",
                    )
                }
            }
        }
        Self {
            issuer: Some(issuer),
            client_id: Some(client_id),
            origins,
            problem: None,
        }
    }

    /// The settings of this function's environment.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// `GET /assets/config.json`: `{"issuer", "clientId"}`, the issuer
    /// `null` (and a `problem`) when sign-in is not available.
    pub fn config_json(&self) -> String {
        let mut config = json!({"issuer": self.issuer, "clientId": self.client_id});
        if let Some(problem) = &self.problem {
            config["problem"] = json!(problem);
        }
        config.to_string()
    }

    /// The page's Content-Security-Policy: its own origin for everything,
    /// and the provider's origins for `fetch` alone. The page reaches the
    /// provider's sign-in and sign-out pages by navigating, which no
    /// directive governs, and submits no form anywhere (`form-action`).
    pub fn content_security_policy(&self) -> String {
        let connect = std::iter::once("'self'")
            .chain(self.origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src {connect}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    }
}

/// The origin of an http(s) URL (`https://host[:port]`), lower-cased; `None`
/// for anything else, and for any character that could end a CSP source
/// expression or smuggle in another directive.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let plain = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if authority.is_empty() || !plain {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> SignIn {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        SignIn::from_vars(|name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_issuer_and_client_id_come_from_the_environment() {
        let signin = settings(&[
            ("OIDC_ISSUER", "https://idp.example.com/tenant/v2.0"),
            ("OIDC_AUDIENCE", "api-audience"),
            ("OIDC_CLIENT_ID", "dashboard"),
        ]);
        assert_eq!(
            signin.config_json(),
            r#"{"clientId":"dashboard","issuer":"https://idp.example.com/tenant/v2.0"}"#
        );
        assert_eq!(signin.origins, ["https://idp.example.com"]);
        let audience_only = settings(&[
            ("OIDC_ISSUER", "http://127.0.0.1:9100"),
            ("OIDC_AUDIENCE", "dashboard"),
        ]);
        assert_eq!(audience_only.client_id.as_deref(), Some("dashboard"));
        assert!(audience_only
            .content_security_policy()
            .contains("connect-src 'self' http://127.0.0.1:9100;"));
    }

    #[test]
    fn without_an_issuer_the_page_is_told_why() {
        for vars in [
            &[][..],
            &[("OIDC_ISSUER", "")][..],
            &[("OIDC_ISSUER", "ftp://idp.example.com")][..],
            &[("OIDC_ISSUER", "https://idp.example.com 'unsafe-inline'")][..],
            &[("OIDC_ISSUER", "https://idp.example.com;script-src *")][..],
            &[("OIDC_ISSUER", "https://idp.example.com")][..],
        ] {
            let signin = settings(vars);
            assert_eq!(signin.issuer, None, "{vars:?}");
            let config: serde_json::Value = serde_json::from_str(&signin.config_json()).unwrap();
            assert_eq!(config["issuer"], serde_json::Value::Null);
            assert!(config["problem"]
                .as_str()
                .unwrap()
                .starts_with("Sign-in is not configured"));
            assert!(signin
                .content_security_policy()
                .contains("connect-src 'self';"));
        }
    }

    #[test]
    fn a_token_endpoint_elsewhere_is_allowed_too() {
        let signin = settings(&[
            (
                "OIDC_ISSUER",
                "https://cognito-idp.ap-southeast-2.amazonaws.com/pool",
            ),
            ("OIDC_AUDIENCE", "client"),
            (
                "OIDC_TOKEN_ORIGIN",
                "https://Users.auth.ap-southeast-2.amazoncognito.com/oauth2/token",
            ),
        ]);
        assert!(signin.content_security_policy().contains(
            "connect-src 'self' https://cognito-idp.ap-southeast-2.amazonaws.com https://users.auth.ap-southeast-2.amazoncognito.com;"
        ));
    }
}
