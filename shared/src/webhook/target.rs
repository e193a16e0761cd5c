//! Where webhooks may be sent: URL rules and the special-use address ranges refused (SSRF).
//!
//! A webhook URL is chosen by a client, and our functions run inside AWS next
//! to the instance metadata service, the VPC and whatever listens on
//! loopback. So a URL is judged three times: its text when it is subscribed
//! ([`WebhookUrl::parse`]), the addresses its host resolves to then
//! ([`check_resolves`]), and the addresses actually connected to at every
//! delivery (the resolver in [`super::send`]), since a name may resolve
//! elsewhere tomorrow (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use url::{Host, Url};

/// The longest URL kept: longer ones are not webhook endpoints, and the
/// bound keeps stored subscriptions small.
const MAX_LENGTH: usize = 2048;

/// How long a name may take to resolve, so that a slow or hostile name
/// server cannot hold a request or a delivery open.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which targets are allowed besides public https ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    /// Also http and https to loopback (`make dev` and tests only, where
    /// the receiver runs on the same machine); never set in AWS.
    pub local: bool,
}

/// A webhook URL that passed [`WebhookUrl::parse`], in its normalised form,
/// so one endpoint has one spelling in storage and in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

/// Why a URL may not receive webhooks. The text is the `detail` of the
/// Basiq error the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("URL is not a valid absolute URL.")]
    NotAbsolute,
    /// A URL parser drops surrounding spaces and tabs without a word; we
    /// refuse them so that what is stored is what was sent.
    #[error("URL must not contain spaces or control characters.")]
    Unprintable,
    #[error("URL is longer than 2048 characters.")]
    TooLong,
    #[error("URL must use https.")]
    NotHttps,
    /// Credentials in a URL end up in logs and delivery records.
    #[error("URL must not include a user name or password.")]
    Credentials,
    /// A fragment is never sent to the server, so it can only mislead.
    #[error("URL must not include a fragment (#).")]
    Fragment,
    #[error("URL's host is a private or special-use address ({0}), which webhooks may not reach.")]
    SpecialAddress(IpAddr),
    /// The address stays out of the message: it is the resolver's answer,
    /// which could tell a caller about names inside a private network.
    #[error(
        "URL's host resolves to a private or special-use address, which webhooks may not reach."
    )]
    ResolvesToSpecial(IpAddr),
    #[error("URL's host ({0}) is a local name, which webhooks may not reach.")]
    LocalName(String),
    #[error("URL's host could not be resolved.")]
    Unresolved,
}

impl WebhookUrl {
    /// Checks the text alone (no lookup: see [`check_resolves`]). The
    /// checks run on the parsed form, so that spellings such as
    /// `http://2130706433/` or `https://0x7f.1/` are judged as the address
    /// they mean (127.0.0.1), as the sender would connect to it.
    pub fn parse(text: &str, policy: TargetPolicy) -> Result<Self, UrlProblem> {
        if text.chars().count() > MAX_LENGTH {
            return Err(UrlProblem::TooLong);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlProblem::Unprintable);
        }
        let url = Url::parse(text).map_err(|_| UrlProblem::NotAbsolute)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UrlProblem::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlProblem::Credentials);
        }
        if url.fragment().is_some() {
            return Err(UrlProblem::Fragment);
        }
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => judge(ip.into(), policy)?,
            Some(Host::Ipv6(ip)) => judge(ip.into(), policy)?,
            Some(Host::Domain(name)) if is_local_name(name) => {
                if !policy.local {
                    return Err(UrlProblem::LocalName(name.to_owned()));
                }
                true
            }
            Some(Host::Domain(_)) => false,
            None => return Err(UrlProblem::NotAbsolute),
        };
        if url.scheme() == "http" && !(policy.local && loopback) {
            return Err(UrlProblem::NotHttps);
        }
        // Normalising can lengthen a URL (punycode, percent-encoding), and
        // the normalised form is the one stored.
        if url.as_str().len() > MAX_LENGTH {
            return Err(UrlProblem::TooLong);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host alone, for logs: the path may carry a receiver's token.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The address, when the host is one rather than a name: no resolver
    /// sees it, so the sender judges it itself.
    pub(crate) fn literal_ip(&self) -> Option<IpAddr> {
        match self.0.host() {
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        }
    }

    /// A URL that skipped the checks, to show that the sender refuses on
    /// its own what `parse` would have refused.
    #[cfg(test)]
    pub(crate) fn unchecked(text: &str) -> Self {
        Self(Url::parse(text).unwrap())
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `localhost` and its subdomains resolve to loopback by definition
/// (RFC 6761 section 6.3), whatever a name server says.
fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// Refuses an address the policy does not allow; otherwise tells whether
/// it is loopback (which is what allows http locally).
fn judge(ip: IpAddr, policy: TargetPolicy) -> Result<bool, UrlProblem> {
    if allowed(ip, policy) {
        Ok(ip.is_loopback())
    } else {
        Err(UrlProblem::SpecialAddress(ip))
    }
}

/// Whether a webhook may be sent to this address.
pub fn allowed(ip: IpAddr, policy: TargetPolicy) -> bool {
    !is_special_use(ip) || (policy.local && ip.is_loopback())
}

/// Resolves the URL's host now and refuses it if any of its addresses is
/// not allowed: a name with one private address among public ones would
/// reach the private one on some deliveries.
pub async fn check_resolves(url: &WebhookUrl, policy: TargetPolicy) -> Result<(), UrlProblem> {
    match url.literal_ip() {
        Some(ip) => judge(ip, policy).map(drop),
        None => resolve_allowed(url.host(), policy).await.map(drop),
    }
}

/// Every address of `host`, or the first one not allowed. The sender's
/// resolver uses this too, so subscribing and delivering judge alike. The
/// port plays no part in which addresses a name has, hence 0.
pub(crate) async fn resolve_allowed(
    host: &str,
    policy: TargetPolicy,
) -> Result<Vec<IpAddr>, UrlProblem> {
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| UrlProblem::Unresolved)?
        .map_err(|_| UrlProblem::Unresolved)?;
    let addresses: Vec<IpAddr> = found.map(|address| address.ip()).collect();
    if let Some(refused) = addresses.iter().find(|ip| !allowed(**ip, policy)) {
        return Err(UrlProblem::ResolvesToSpecial(*refused));
    }
    if addresses.is_empty() {
        return Err(UrlProblem::Unresolved);
    }
    Ok(addresses)
}

/// Whether the address is in a special-use range: a webhook receiver is a
/// public host, and nothing else may be reached.
pub fn is_special_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => SPECIAL_V4.iter().any(|&(network, length)| {
            shares_prefix(ip.to_bits().into(), network.to_bits().into(), 32, length)
        }),
        IpAddr::V6(ip) => SPECIAL_V6
            .iter()
            .any(|&(network, length)| shares_prefix(ip.to_bits(), network.to_bits(), 128, length)),
    }
}

/// Whether two addresses of `width` bits agree on their first `length` bits.
fn shares_prefix(a: u128, b: u128, width: u32, length: u8) -> bool {
    let host_bits = width.saturating_sub(u32::from(length));
    (a ^ b).checked_shr(host_bits).unwrap_or(0) == 0
}

/// The IANA IPv4 Special-Purpose Address Registry, every entry
/// (<https://www.iana.org/assignments/iana-ipv4-special-registry/>, as of
/// 2025), plus multicast 224.0.0.0/4 from the IPv4 Multicast Address Space
/// Registry (<https://www.iana.org/assignments/multicast-addresses/>).
/// Entries nested in a listed one (0.0.0.0/32, 192.0.0.0/29, 192.0.0.9/32
/// and the other 192.0.0.0/24 assignments) are covered by it.
const SPECIAL_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),          // "this network" (RFC 791)
    (Ipv4Addr::new(10, 0, 0, 0), 8),         // private use (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10),      // shared address space, CGN (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8),        // loopback (RFC 1122)
    (Ipv4Addr::new(169, 254, 0, 0), 16),     // link local, the metadata service (RFC 3927)
    (Ipv4Addr::new(172, 16, 0, 0), 12),      // private use (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24),       // IETF protocol assignments (RFC 6890)
    (Ipv4Addr::new(192, 0, 2, 0), 24),       // documentation, TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 31, 196, 0), 24),    // AS112-v4 (RFC 7535)
    (Ipv4Addr::new(192, 52, 193, 0), 24),    // AMT (RFC 7450)
    (Ipv4Addr::new(192, 88, 99, 0), 24),     // deprecated 6to4 relay anycast (RFC 7526)
    (Ipv4Addr::new(192, 168, 0, 0), 16),     // private use (RFC 1918)
    (Ipv4Addr::new(192, 175, 48, 0), 24),    // direct delegation AS112 service (RFC 7534)
    (Ipv4Addr::new(198, 18, 0, 0), 15),      // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24),    // documentation, TEST-NET-2 (RFC 5737)
    (Ipv4Addr::new(203, 0, 113, 0), 24),     // documentation, TEST-NET-3 (RFC 5737)
    (Ipv4Addr::new(224, 0, 0, 0), 4),        // multicast (RFC 5771)
    (Ipv4Addr::new(240, 0, 0, 0), 4),        // reserved (RFC 1112)
    (Ipv4Addr::new(255, 255, 255, 255), 32), // limited broadcast (RFC 919)
];

/// The IANA IPv6 Special-Purpose Address Registry, every entry
/// (<https://www.iana.org/assignments/iana-ipv6-special-registry/>, as of
/// 2025), plus multicast ff00::/8 and the deprecated site-local fec0::/10
/// and IPv4-compatible ::/96 from the IPv6 Address Space Registry
/// (<https://www.iana.org/assignments/ipv6-address-space/>).
///
/// The ranges that embed an IPv4 address (IPv4-mapped, IPv4-compatible,
/// NAT64, 6to4, Teredo) are refused whatever the embedded address: a
/// receiver has no need of a translated address, and judging the embedded
/// one would mean trusting every translator on the way. The nested
/// 2001::/23 assignments (Teredo 2001::/32, ORCHIDv2, AMT, benchmarking,
/// ...) are covered by 2001::/23.
const SPECIAL_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128), // unspecified (RFC 4291)
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128), // loopback (RFC 4291)
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),  // IPv4-compatible, deprecated (RFC 4291)
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped (RFC 4291)
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // IPv4/IPv6 translation, NAT64 (RFC 6052)
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use IPv4/IPv6 translation (RFC 8215)
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),     // discard-only (RFC 6666)
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64),     // dummy IPv6 prefix (RFC 9780)
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),    // IETF protocol assignments (RFC 2928)
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation (RFC 3849)
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),    // 6to4 (RFC 3056)
    (Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48), // direct delegation AS112 (RFC 7534)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),    // documentation (RFC 9637)
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16),    // segment routing SIDs (RFC 9602)
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),     // unique local (RFC 4193)
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),    // link-local unicast (RFC 4291)
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),    // site-local, deprecated (RFC 3879)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),     // multicast (RFC 4291)
];

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: TargetPolicy = TargetPolicy { local: false };
    const LOCAL: TargetPolicy = TargetPolicy { local: true };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// A fixed pseudo-random sequence (Knuth's MMIX LCG), so that the
    /// property loops below see many addresses and the same ones every run.
    fn numbers(seed: u64) -> impl Iterator<Item = u64> {
        std::iter::successors(Some(seed), |x| {
            Some(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            )
        })
        .map(|x| x >> 16)
    }

    fn v4_in(first_octet: u8, seed: u64) -> impl Iterator<Item = Ipv4Addr> {
        numbers(seed).map(move |x| {
            Ipv4Addr::from_bits((u32::from(first_octet) << 24) | (x as u32 & 0x00ff_ffff))
        })
    }

    fn random_v6(seed: u64) -> impl Iterator<Item = Ipv6Addr> {
        let mut next = numbers(seed);
        std::iter::from_fn(move || {
            let high = u128::from(next.next()?);
            let low = u128::from(next.next()?);
            Some(Ipv6Addr::from_bits((high << 64) ^ (high << 32) ^ low))
        })
    }

    /// Every range of the design's list and of the registries: first,
    /// middle and last address, written out rather than computed from the
    /// table under test.
    const REFUSED: &[[&str; 3]] = &[
        ["0.0.0.0", "0.128.0.1", "0.255.255.255"],
        ["10.0.0.0", "10.128.3.4", "10.255.255.255"],
        ["100.64.0.0", "100.100.0.1", "100.127.255.255"],
        ["127.0.0.0", "127.0.0.1", "127.255.255.255"],
        ["169.254.0.0", "169.254.169.254", "169.254.255.255"],
        ["172.16.0.0", "172.20.1.1", "172.31.255.255"],
        ["192.0.0.0", "192.0.0.9", "192.0.0.255"],
        ["192.0.2.0", "192.0.2.128", "192.0.2.255"],
        ["192.31.196.0", "192.31.196.1", "192.31.196.255"],
        ["192.52.193.0", "192.52.193.1", "192.52.193.255"],
        ["192.88.99.0", "192.88.99.1", "192.88.99.255"],
        ["192.168.0.0", "192.168.1.1", "192.168.255.255"],
        ["192.175.48.0", "192.175.48.1", "192.175.48.255"],
        ["198.18.0.0", "198.19.0.0", "198.19.255.255"],
        ["198.51.100.0", "198.51.100.7", "198.51.100.255"],
        ["203.0.113.0", "203.0.113.7", "203.0.113.255"],
        ["224.0.0.0", "232.1.2.3", "239.255.255.255"],
        ["240.0.0.0", "248.0.0.1", "255.255.255.254"],
        ["255.255.255.255", "255.255.255.255", "255.255.255.255"],
        ["::", "::", "::"],
        ["::1", "::1", "::1"],
        ["::", "::128.0.0.0", "::255.255.255.255"],
        [
            "::ffff:0.0.0.0",
            "::ffff:127.0.0.1",
            "::ffff:255.255.255.255",
        ],
        ["64:ff9b::", "64:ff9b::a9fe:a9fe", "64:ff9b::ffff:ffff"],
        [
            "64:ff9b:1::",
            "64:ff9b:1:8000::",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        ],
        ["100::", "100::8000:0:0:0", "100::ffff:ffff:ffff:ffff"],
        [
            "100:0:0:1::",
            "100:0:0:1:8000::",
            "100:0:0:1:ffff:ffff:ffff:ffff",
        ],
        [
            "2001::",
            "2001:100::",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "2001::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "2001:db8::",
            "2001:db8:8000::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "2002::",
            "2002:7f00:1::",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "2620:4f:8000::",
            "2620:4f:8000:8000::",
            "2620:4f:8000:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "3fff::",
            "3fff:800::",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "5f00::",
            "5f00:8000::",
            "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "fc00::",
            "fd12:3456::1",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "fe80::",
            "fe80::1",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "fec0::",
            "fed0::1",
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
        [
            "ff00::",
            "ff02::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ],
    ];

    /// Public addresses, including the neighbours just outside the ranges.
    const PUBLIC: &[&str] = &[
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "1.0.0.0",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "191.255.255.255",
        "192.0.1.0",
        "192.0.3.0",
        "192.31.195.255",
        "192.31.197.0",
        "192.88.98.255",
        "192.88.100.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "198.51.101.0",
        "203.0.112.255",
        "203.0.114.0",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2001:200::",
        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::",
        "2003::",
        "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
        "2620:4f:8001::",
        "3fff:1000::",
        "5f01::",
    ];

    #[test]
    fn every_special_use_range_is_refused_at_both_ends_and_inside() {
        for range in REFUSED {
            for text in range {
                assert!(is_special_use(ip(text)), "{text} should be special-use");
                assert!(!allowed(ip(text), AWS), "{text}");
            }
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in PUBLIC {
            assert!(!is_special_use(ip(text)), "{text} should be public");
            assert!(allowed(ip(text), AWS) && allowed(ip(text), LOCAL), "{text}");
        }
    }

    #[test]
    fn loopback_is_allowed_locally_and_nothing_else_special_is() {
        for text in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert!(allowed(ip(text), LOCAL), "{text}");
            assert!(!allowed(ip(text), AWS), "{text}");
        }
        for range in REFUSED {
            for text in range {
                let address = ip(text);
                assert_eq!(allowed(address, LOCAL), address.is_loopback(), "{text}");
            }
        }
    }

    #[test]
    fn addresses_embedding_ipv4_are_refused_whatever_they_embed() {
        for text in [
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::7f00:1",
            "2002:7f00:1::",
            "2001::80ff:fffe",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "2001::5601:5601",
        ] {
            assert!(!allowed(ip(text), LOCAL), "{text}");
        }
        for (n, v4) in v4_in(8, 1)
            .take(64)
            .chain(v4_in(93, 2).take(64))
            .enumerate()
        {
            let [a, b, c, d] = v4.octets();
            let bits = u128::from(v4.to_bits());
            let forms = [
                v4.to_ipv6_mapped(),
                v4.to_ipv6_compatible(),
                Ipv6Addr::from_bits((0x64_ff9b_u128 << 96) | bits),
                Ipv6Addr::from_bits((0x64_ff9b_0001_u128 << 80) | (bits << 8)),
                Ipv6Addr::new(
                    0x2002,
                    u16::from_be_bytes([a, b]),
                    u16::from_be_bytes([c, d]),
                    0,
                    0,
                    0,
                    0,
                    n as u16,
                ),
                Ipv6Addr::from_bits((0x2001_u128 << 112) | (!bits & 0xffff_ffff)),
            ];
            for form in forms {
                assert!(is_special_use(form.into()), "{form} embeds {v4}");
            }
        }
    }

    #[test]
    fn whole_special_octets_are_refused_and_clean_ones_allowed() {
        let special = |octet: u8| matches!(octet, 0 | 10 | 127 | 224..=255);
        // Octets with a special range somewhere inside them.
        let mixed = |octet: u8| matches!(octet, 100 | 169 | 172 | 192 | 198 | 203);
        for octet in 0..=255u8 {
            for address in v4_in(octet, u64::from(octet)).take(200) {
                if special(octet) {
                    assert!(is_special_use(address.into()), "{address}");
                } else if !mixed(octet) {
                    assert!(!is_special_use(address.into()), "{address}");
                }
            }
        }
    }

    #[test]
    fn whatever_the_standard_library_calls_special_is_refused() {
        for octet in 0..=255u8 {
            for v4 in v4_in(octet, 7).take(200) {
                let std_special = v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_broadcast()
                    || v4.is_documentation()
                    || v4.is_multicast()
                    || v4.is_unspecified();
                assert!(!std_special || is_special_use(v4.into()), "{v4}");
            }
        }
        let prefixes: [u128; 6] = [0, 0xfc00, 0xfd00, 0xfe80, 0xff00, 0x2001];
        for (n, random) in random_v6(11).take(6000).enumerate() {
            let v6 = Ipv6Addr::from_bits((prefixes[n % 6] << 112) | (random.to_bits() >> 16));
            let std_special = v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local();
            assert!(!std_special || is_special_use(v6.into()), "{v6}");
        }
    }

    #[test]
    fn global_unicast_ipv6_outside_the_registry_is_allowed() {
        for random in random_v6(3).take(5000) {
            let bits = random.to_bits();
            // 2003:: to 3ffe:ffff:..., skipping 2620::/16 (AS112 is there).
            let first = 0x2003 + (bits >> 112) % (0x3fff - 0x2003);
            if first == 0x2620 {
                continue;
            }
            let v6 = Ipv6Addr::from_bits((first << 112) | (bits & (u128::MAX >> 16)));
            assert!(allowed(v6.into(), AWS), "{v6}");
        }
    }

    fn problem(text: &str, policy: TargetPolicy) -> UrlProblem {
        WebhookUrl::parse(text, policy).unwrap_err()
    }

    #[test]
    fn aws_takes_public_https_only() {
        let url = WebhookUrl::parse("https://Hooks.Example.com:8443/in?x=1", AWS).unwrap();
        assert_eq!(url.as_str(), "https://hooks.example.com:8443/in?x=1");
        assert_eq!(url.host(), "hooks.example.com");
        assert_eq!(url.to_string(), url.as_str());
        assert!(WebhookUrl::parse("https://93.184.216.34/", AWS).is_ok());
        assert!(WebhookUrl::parse("https://[2606:4700:4700::1111]/", AWS).is_ok());
        assert_eq!(problem("http://example.com/", AWS), UrlProblem::NotHttps);
        assert_eq!(problem("ftp://example.com/", AWS), UrlProblem::NotHttps);
        assert_eq!(
            problem("http://127.0.0.1:8080/x", AWS),
            UrlProblem::SpecialAddress(ip("127.0.0.1"))
        );
        assert_eq!(
            problem("https://localhost/", AWS),
            UrlProblem::LocalName("localhost".into())
        );
        assert_eq!(
            problem("https://a.b.LOCALHOST./", AWS),
            UrlProblem::LocalName("a.b.localhost.".into())
        );
    }

    #[test]
    fn local_adds_loopback_and_nothing_more() {
        let url = WebhookUrl::parse("http://127.0.0.1:8080/x", LOCAL).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/x");
        assert!(WebhookUrl::parse("http://[::1]/", LOCAL).is_ok());
        assert!(WebhookUrl::parse("http://localhost:3000/", LOCAL).is_ok());
        assert!(WebhookUrl::parse("https://localhost/", LOCAL).is_ok());
        assert!(WebhookUrl::parse("https://example.com/", LOCAL).is_ok());
        assert_eq!(problem("http://example.com/", LOCAL), UrlProblem::NotHttps);
        assert_eq!(
            problem("http://10.0.0.1/", LOCAL),
            UrlProblem::SpecialAddress(ip("10.0.0.1"))
        );
        assert_eq!(
            problem("https://169.254.169.254/latest/meta-data/", LOCAL),
            UrlProblem::SpecialAddress(ip("169.254.169.254"))
        );
        assert_eq!(
            problem("http://[::ffff:127.0.0.1]/", LOCAL),
            UrlProblem::SpecialAddress(ip("::ffff:127.0.0.1"))
        );
    }

    #[test]
    fn other_spellings_of_an_address_are_judged_as_that_address() {
        assert_eq!(
            problem("https://[::ffff:169.254.169.254]/", AWS),
            UrlProblem::SpecialAddress(ip("::ffff:169.254.169.254"))
        );
        for text in [
            "http://2130706433/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://0x7f.1/",
            "https://127.1/",
        ] {
            assert_eq!(
                problem(text, AWS),
                UrlProblem::SpecialAddress(ip("127.0.0.1")),
                "{text}"
            );
        }
        assert_eq!(
            problem("https://2852039166/", LOCAL),
            UrlProblem::SpecialAddress(ip("169.254.169.254"))
        );
    }

    #[test]
    fn the_text_must_be_a_plain_absolute_url() {
        for policy in [AWS, LOCAL] {
            assert_eq!(
                problem("https://user:pw@example.com/", policy),
                UrlProblem::Credentials
            );
            assert_eq!(
                problem("https://user@example.com/", policy),
                UrlProblem::Credentials
            );
            assert_eq!(
                problem("https://:pw@example.com/", policy),
                UrlProblem::Credentials
            );
            assert_eq!(
                problem("https://example.com/#top", policy),
                UrlProblem::Fragment
            );
            assert_eq!(
                problem("https://example.com/#", policy),
                UrlProblem::Fragment
            );
            assert_eq!(
                problem(" https://example.com/", policy),
                UrlProblem::Unprintable
            );
            assert_eq!(
                problem("https://example.com/\n", policy),
                UrlProblem::Unprintable
            );
            assert_eq!(
                problem("https://exa\tmple.com/", policy),
                UrlProblem::Unprintable
            );
            assert_eq!(problem("/hooks", policy), UrlProblem::NotAbsolute);
            assert_eq!(problem("", policy), UrlProblem::NotAbsolute);
            assert_eq!(problem("https://", policy), UrlProblem::NotAbsolute);
            assert_eq!(
                problem("mailto:a@example.com", policy),
                UrlProblem::NotHttps
            );
        }
        let longest = format!("https://example.com/{}", "a".repeat(MAX_LENGTH - 20));
        assert_eq!(longest.len(), MAX_LENGTH);
        assert!(WebhookUrl::parse(&longest, AWS).is_ok());
        assert_eq!(problem(&format!("{longest}a"), AWS), UrlProblem::TooLong);
        // Short as typed, too long once percent-encoded.
        let encoded = format!("https://example.com/{}", "é".repeat(1000));
        assert_eq!(problem(&encoded, AWS), UrlProblem::TooLong);
    }

    #[test]
    fn each_problem_reads_as_one_sentence() {
        assert_eq!(
            UrlProblem::ResolvesToSpecial(ip("10.0.0.1")).to_string(),
            "URL's host resolves to a private or special-use address, which webhooks may not reach."
        );
        assert_eq!(
            UrlProblem::TooLong.to_string(),
            "URL is longer than 2048 characters."
        );
        assert_eq!(UrlProblem::NotHttps.to_string(), "URL must use https.");
    }

    #[tokio::test]
    async fn resolving_judges_every_address() {
        let literal = WebhookUrl::unchecked("https://10.0.0.1/");
        assert_eq!(
            check_resolves(&literal, LOCAL).await,
            Err(UrlProblem::SpecialAddress(ip("10.0.0.1")))
        );
        let public = WebhookUrl::parse("https://93.184.216.34/", AWS).unwrap();
        assert_eq!(check_resolves(&public, AWS).await, Ok(()));
        let local = WebhookUrl::parse("https://localhost/", LOCAL).unwrap();
        assert_eq!(check_resolves(&local, LOCAL).await, Ok(()));
        assert!(matches!(
            check_resolves(&local, AWS).await,
            Err(UrlProblem::ResolvesToSpecial(address)) if address.is_loopback()
        ));
        let nowhere = WebhookUrl::parse("https://no-such-host.invalid/", AWS).unwrap();
        assert_eq!(
            check_resolves(&nowhere, AWS).await,
            Err(UrlProblem::Unresolved)
        );
    }
}
