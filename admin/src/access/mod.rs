//! The gate in front of everything the admin worker serves, pages included: a valid
//! Cloudflare Access token for this application, or nothing. Without Access settings
//! the gate is closed; `ADMIN_AUTH=dev-open` opens it for local development, and the
//! pages then say so.

pub mod keys;
pub mod token;

use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};

use keys::KeySet;
use token::{Expected, Operator};

/// The Access application the dashboards sit behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessApp {
    /// The team's origin, `https://<team>.cloudflareaccess.com`: the tokens' issuer.
    pub team: String,
    /// The application's audience tags (`ACCESS_AUD`, comma-separated).
    pub audiences: Vec<String>,
}

impl AccessApp {
    /// Where the team publishes its signing keys.
    pub fn certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.team)
    }
}

/// How the admin worker admits requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Only with a valid token of this application.
    Access(AccessApp),
    /// Everyone: for a local `wrangler dev` only.
    DevOpen,
    /// No one, because the settings do not say how to check; the reason names them.
    Closed(String),
}

/// Who a request was admitted as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admitted {
    /// An operator Access signed in.
    Operator(Operator),
    /// Anyone, the gate being open for development.
    DevOpen,
}

/// `team` as an origin: a bare host becomes `https://<host>`; a trailing `/` goes.
fn team_origin(team: &str) -> Option<String> {
    let team = team.trim().trim_end_matches('/');
    let origin = if team.contains("://") { team.to_owned() } else { format!("https://{team}") };
    let host = origin.split_once("://").map(|(_, host)| host)?;
    let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
        && !host.is_empty()
        && !host.contains(['/', '?', '#', ' ']);
    valid.then_some(origin)
}

impl Gate {
    /// The gate the settings describe: `ADMIN_AUTH` (`access`, the default, or
    /// `dev-open`), `ACCESS_TEAM_DOMAIN` and `ACCESS_AUD`.
    pub fn from_settings(admin_auth: Option<&str>, team: Option<&str>, audience: Option<&str>) -> Self {
        match admin_auth.map(str::trim).filter(|a| !a.is_empty()) {
            None | Some("access") => {}
            Some("dev-open") => return Self::DevOpen,
            Some(other) => {
                return Self::Closed(format!(
                    "ADMIN_AUTH is {other:?}: it must be \"access\" or \"dev-open\""
                ))
            }
        }
        let team = team.map(str::trim).filter(|t| !t.is_empty());
        let audiences: Vec<String> = audience
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        match (team, audiences.is_empty()) {
            (None, _) | (_, true) => Self::Closed(
                "the admin gate is closed: set ACCESS_TEAM_DOMAIN and ACCESS_AUD to your Cloudflare Access \
                 team and application, or ADMIN_AUTH=dev-open on a local wrangler dev"
                    .to_owned(),
            ),
            (Some(team), false) => match team_origin(team) {
                Some(team) => Self::Access(AccessApp { team, audiences }),
                None => Self::Closed(format!("ACCESS_TEAM_DOMAIN {team:?} is not a host or origin")),
            },
        }
    }

    /// Admits or refuses a request that carried `assertion` (its
    /// `Cf-Access-Jwt-Assertion`), with the team's `keys` as held at `now_secs`.
    pub fn admit(
        &self,
        assertion: Option<&str>,
        keys: Option<&KeySet>,
        now_secs: i64,
    ) -> Result<Admitted, ProtocolError> {
        let app = match self {
            Self::DevOpen => return Ok(Admitted::DevOpen),
            Self::Closed(why) => {
                return Err(ProtocolError::new(ErrorCode::AdminGateUnconfigured, why.clone()))
            }
            Self::Access(app) => app,
        };
        let Some(assertion) = assertion.filter(|a| !a.is_empty()) else {
            return Err(ProtocolError::new(
                ErrorCode::AccessRequired,
                "sign in through Cloudflare Access: the request has no Cf-Access-Jwt-Assertion",
            ));
        };
        let Some(keys) = keys else {
            return Err(ProtocolError::new(
                ErrorCode::Unavailable,
                format!("the team's Access keys could not be fetched from {}", app.certs_url()),
            ));
        };
        let expected = Expected { issuer: &app.team, audiences: &app.audiences };
        token::verify(assertion, keys, &expected, now_secs)
            .map(Admitted::Operator)
            .map_err(|r| ProtocolError::new(ErrorCode::AccessDenied, r.message()))
    }
}

/// Whether a request that changes something may go on: a browser names the page it was
/// sent from in `Origin`, and only the dashboards' own origin may write through them.
/// Access lets a cross-site form post through with the operator's cookie, so without
/// this check any site the operator visits could append to streams (CSRF). Requests
/// without `Origin` come from tools, not from another site's page.
pub fn same_origin(origin: Option<&str>, own_origin: &str) -> Result<(), ProtocolError> {
    match origin {
        Some(origin) if origin.trim_end_matches('/') != own_origin.trim_end_matches('/') => {
            Err(ProtocolError::new(
                ErrorCode::AccessDenied,
                format!("a change from another site ({origin}) is refused: use the dashboards' own pages"),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
