//! Which webhook URLs a subscription may name (§6.2, §12.8): the server fetches them, so
//! a URL must not reach into the network the server runs in.
//!
//! Accepted: `https://` to a public host name or a public IP address. Loopback
//! (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`, over `http://` or `https://`)
//! only while [`Loopback::Allowed`], the protocol's development rule; production
//! deployments turn it off (`WEBHOOK_ALLOW_LOOPBACK = "0"`, docs/security.md).
//! Refused: every other `http://` URL, credentials in the URL, private (RFC 1918),
//! shared (RFC 6598), link-local (cloud metadata at `169.254.169.254` among them),
//! unspecified, multicast and reserved addresses in either IP version (IPv4 inside IPv6
//! included), and names that only resolve inside a network (`*.internal`, `*.local`,
//! single-label names). URLs are parsed as the runtime parses them, so `0x7f.1` or
//! `2130706433` are the IP addresses they spell.
//!
//! Host names are not resolved here: a public name pointing at a private address is
//! stopped by the platform, whose outbound requests cannot reach private networks.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Whether loopback URLs are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loopback {
    /// Development: a receiver on the same machine.
    Allowed,
    /// Production.
    Refused,
}

impl Loopback {
    /// From the `WEBHOOK_ALLOW_LOOPBACK` variable: allowed unless it is `"0"`.
    pub fn from_var(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("0") | Some("false") => Self::Refused,
            _ => Self::Allowed,
        }
    }
}

/// Why a URL was refused, for the client's error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not an absolute URL.
    Malformed,
    /// Neither `https` nor `http`.
    Scheme,
    /// `http` to something that is not loopback.
    PlainHttp,
    /// A user name or password in the URL.
    Credentials,
    /// Loopback while loopback is refused.
    Loopback,
    /// A private, link-local or otherwise non-public address.
    PrivateAddress,
    /// A name that only resolves inside a network.
    InternalName,
}

impl Rejection {
    /// The client's error message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "webhook.url must be an absolute URL",
            Self::Scheme => "webhook.url must use https",
            Self::PlainHttp => "http webhook URLs are only accepted for localhost and 127.0.0.0/8",
            Self::Credentials => "webhook.url must not carry credentials",
            Self::Loopback => "loopback webhook URLs are not accepted by this deployment",
            Self::PrivateAddress => "webhook.url must not target a private, link-local or reserved address",
            Self::InternalName => "webhook.url must name a public host",
        }
    }
}

/// Checks a webhook URL.
pub fn check(raw: &str, loopback: Loopback) -> Result<Url, Rejection> {
    let url = Url::parse(raw).map_err(|_| Rejection::Malformed)?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(Rejection::Scheme),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Rejection::Credentials);
    }
    let target = match url.host() {
        None => return Err(Rejection::Malformed),
        Some(Host::Domain(name)) => classify_name(name),
        Some(Host::Ipv4(ip)) => classify_v4(ip),
        Some(Host::Ipv6(ip)) => classify_v6(ip),
    };
    match target {
        Target::Loopback if loopback == Loopback::Allowed => Ok(url),
        Target::Loopback => Err(Rejection::Loopback),
        Target::Private => Err(Rejection::PrivateAddress),
        Target::Internal => Err(Rejection::InternalName),
        Target::Public if https => Ok(url),
        Target::Public => Err(Rejection::PlainHttp),
    }
}

enum Target {
    Public,
    Loopback,
    Private,
    Internal,
}

fn classify_name(name: &str) -> Target {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Target::Loopback;
    }
    const INTERNAL_SUFFIXES: [&str; 5] = [".internal", ".local", ".localdomain", ".home.arpa", ".lan"];
    if !name.contains('.') || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Target::Internal;
    }
    Target::Public
}

fn classify_v4(ip: Ipv4Addr) -> Target {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return Target::Loopback;
    }
    let shared = a == 100 && (64..128).contains(&b); // RFC 6598
    let protocol_assignments = a == 192 && b == 0 && c == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let reserved = a >= 240 || a == 0;
    if ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || protocol_assignments
        || benchmarking
        || reserved
    {
        return Target::Private;
    }
    Target::Public
}

fn classify_v6(ip: Ipv6Addr) -> Target {
    if ip.is_loopback() {
        return Target::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let site_local = first & 0xffc0 == 0xfec0;
    let documentation = first == 0x2001 && ip.segments()[1] == 0x0db8;
    if ip.is_unspecified() || ip.is_multicast() || unique_local || link_local || site_local || documentation {
        return Target::Private;
    }
    Target::Public
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible or NAT64
/// (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6];
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(url: &str, loopback: Loopback) -> Result<(), Rejection> {
        check(url, loopback).map(|_| ())
    }

    #[test]
    fn public_https_is_accepted() {
        for url in ["https://hooks.example.com/x", "https://8.8.8.8/hook", "https://[2606:4700::1111]/"] {
            assert_eq!(verdict(url, Loopback::Refused), Ok(()), "{url}");
        }
    }

    #[test]
    fn loopback_follows_the_setting() {
        for url in [
            "http://127.0.0.1:4000/webhook",
            "http://127.0.0.9/",
            "http://localhost:3000/",
            "https://api.localhost/",
            "http://[::1]:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(verdict(url, Loopback::Allowed), Ok(()), "{url}");
            assert_eq!(verdict(url, Loopback::Refused), Err(Rejection::Loopback), "{url}");
        }
    }

    #[test]
    fn private_and_reserved_addresses_are_refused() {
        for url in [
            "http://10.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://172.16.5.4/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a00:1]/",
            "https://0xa9fea9fe/",
        ] {
            for loopback in [Loopback::Allowed, Loopback::Refused] {
                assert_eq!(verdict(url, loopback), Err(Rejection::PrivateAddress), "{url}");
            }
        }
        // Just outside the private ranges.
        assert_eq!(verdict("https://172.32.0.1/", Loopback::Refused), Ok(()));
        assert_eq!(verdict("https://100.128.0.1/", Loopback::Refused), Ok(()));
    }

    #[test]
    fn internal_names_schemes_and_credentials_are_refused() {
        let refused = [
            ("https://metadata.google.internal/computeMetadata/v1/", Rejection::InternalName),
            ("https://printer.local/", Rejection::InternalName),
            ("https://intranet/", Rejection::InternalName),
            ("http://hooks.example.com/", Rejection::PlainHttp),
            ("ftp://hooks.example.com/", Rejection::Scheme),
            ("file:///etc/passwd", Rejection::Scheme),
            ("https://user:pw@hooks.example.com/", Rejection::Credentials),
            ("not a url", Rejection::Malformed),
            ("/relative", Rejection::Malformed),
        ];
        for (url, why) in refused {
            assert_eq!(verdict(url, Loopback::Allowed), Err(why), "{url}");
        }
    }

    #[test]
    fn the_variable() {
        assert_eq!(Loopback::from_var(None), Loopback::Allowed);
        assert_eq!(Loopback::from_var(Some("1")), Loopback::Allowed);
        assert_eq!(Loopback::from_var(Some("0")), Loopback::Refused);
        assert_eq!(Loopback::from_var(Some("false")), Loopback::Refused);
    }
}
