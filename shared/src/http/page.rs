//! The query string of a listing: `limit`, `next` and `filter`, shared by
//! every endpoint that pages, plus whatever criteria the endpoint adds. Every
//! parameter may be given once: a repeated one is refused, never half-read.

use lambda_http::Request;

use crate::error::{ApiError, Invalid};

/// The most items a page may hold.
pub const MAX_LIMIT: usize = 500;

/// The parameters every listing takes.
const PAGING: [&str; 3] = ["filter", "limit", "next"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    /// Every parameter as given, in order: the page's links repeat them.
    given: Vec<(String, String)>,
    pub limit: usize,
}

impl PageParams {
    /// Reads the query string of a listing that also takes `criteria`.
    /// Unknown and repeated parameters get 400, naming the parameter.
    pub fn read(req: &Request, criteria: &[&str], default_limit: usize) -> Result<Self, ApiError> {
        let known: Vec<&str> = criteria.iter().chain(PAGING.iter()).copied().collect();
        let given = read_given(req, &known)?;
        let mut page = Self {
            given,
            limit: default_limit,
        };
        if let Some(text) = page.get("limit") {
            page.limit = parse_limit(text)?;
        }
        Ok(page)
    }

    /// A parameter's value, if it was given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn next(&self) -> Option<&str> {
        self.get("next")
    }

    pub fn filter(&self) -> Option<&str> {
        self.get("filter")
    }

    /// The endpoint's own criteria, in the order given (not `filter`, `limit` or `next`).
    pub fn criteria(&self) -> impl Iterator<Item = (&str, &str)> {
        self.given
            .iter()
            .filter(|(n, _)| !PAGING.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// This page: `base` with every parameter as given.
    pub fn self_link(&self, base: &str) -> String {
        link(
            base,
            self.given.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }

    /// The page after this one: the same parameters, with `cursor` as `next`.
    pub fn next_link(&self, base: &str, cursor: &str) -> String {
        let kept = self
            .given
            .iter()
            .filter(|(n, _)| n != "next")
            .map(|(n, v)| (n.as_str(), v.as_str()));
        link(base, kept.chain([("next", cursor)]))
    }
}

/// The query string of a listing that is never paged because it is short
/// (a user's connections or accounts): `filter` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterParams {
    filter: Option<String>,
}

impl FilterParams {
    /// Anything but one `filter` gets 400, naming the parameter.
    pub fn read(req: &Request) -> Result<Self, ApiError> {
        let filter = read_given(req, &["filter"])?.pop().map(|(_, value)| value);
        Ok(Self { filter })
    }

    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// This listing: `base` with its filter.
    pub fn self_link(&self, base: &str) -> String {
        link(base, self.filter().map(|f| ("filter", f)).into_iter())
    }
}

/// A listing that takes no parameter (all of it is one page): any gets
/// 400, naming it, rather than being silently ignored.
pub fn no_parameters(req: &Request) -> Result<(), ApiError> {
    match form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).next() {
        Some((name, _)) => Err(Invalid::new("This list takes no parameters.")
            .at_parameter(&name)
            .into()),
        None => Ok(()),
    }
}

/// The query string as sent, in the client's order, each parameter once.
/// An unknown or repeated parameter gets 400, naming it.
fn read_given(req: &Request, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let query = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes());
    let mut given: Vec<(String, String)> = Vec::new();
    for (name, value) in query {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !known.contains(&name) {
            return Err(
                Invalid::new(format!("Unknown parameter; use {}.", known.join(", ")))
                    .at_parameter(name)
                    .into(),
            );
        }
        if given.iter().any(|(n, _)| n == name) {
            return Err(Invalid::new("Given more than once.")
                .at_parameter(name)
                .into());
        }
        given.push((name.to_owned(), value.to_owned()));
    }
    Ok(given)
}

fn link<'a>(base: &str, params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

fn parse_limit(text: &str) -> Result<usize, ApiError> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            Invalid::new(format!(
                "limit must be a whole number from 1 to {MAX_LIMIT}."
            ))
            .at_parameter("limit")
            .into()
        })
}
