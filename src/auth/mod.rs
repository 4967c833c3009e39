//! Who may do what, decided at the edge before the cache is consulted.
//!
//! With auth configured, every request for a stream of project `p` is checked against
//! `p`'s signing secrets: writes (PUT, POST, DELETE) need a token with `write` scope;
//! reads (GET, HEAD) need `read` or `write` — or no token at all, which makes the read
//! *anonymous*: the edge then keeps it apart in the cache and tells the stream's object,
//! which answers it only if the stream is public — unless the project's record makes
//! all its reads public. A token restricted to one stream
//! (`stream_id`) is good for that stream only. With auth off (no secrets configured),
//! everything is allowed; that is for local development.

pub mod jwt;
pub mod project;
pub mod secrets;

use crate::protocol::path::StreamName;
use crate::protocol::{ErrorCode, ProtocolError};
use jwt::{Claims, Scope, TokenError};
use project::Project;

/// The header in which the edge tells a stream object how a request was authorized.
/// The edge sets or removes it on every request it forwards, so a client cannot.
pub const ACCESS_HEADER: &str = "x-stream-access";

/// How a request was authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Auth is off.
    Open,
    /// A valid token allowed it.
    Token,
    /// A read without credentials: allowed on public streams only.
    Anonymous,
    /// A read without credentials of a project whose reads are all public.
    Public,
}

impl Access {
    /// The value of [`ACCESS_HEADER`] for this access (none when auth is off).
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Self::Open => None,
            Self::Token => Some("token"),
            Self::Anonymous => Some("anonymous"),
            Self::Public => Some("public"),
        }
    }

    /// Reads [`ACCESS_HEADER`] as the edge set it. A value it does not know counts as
    /// anonymous, the least privilege.
    pub fn from_header(value: Option<&str>) -> Self {
        match value {
            None => Self::Open,
            Some("token") => Self::Token,
            Some("public") => Self::Public,
            Some(_) => Self::Anonymous,
        }
    }

    /// Whether auth is on for this request.
    pub fn auth_enabled(self) -> bool {
        self != Self::Open
    }
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// GET or HEAD.
    Read,
    /// PUT, POST or DELETE.
    Write,
}

/// The `Authorization` header's bearer token: `None` without the header, an error for
/// another scheme.
pub fn bearer(authorization: Option<&str>) -> Result<Option<&str>, ProtocolError> {
    let Some(value) = authorization else { return Ok(None) };
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => {
            Err(ProtocolError::new(ErrorCode::InvalidAuthorization, "Authorization must be 'Bearer <token>'"))
        }
    }
}

/// Decides a request for `name` with auth on. `project` is the project's configuration
/// (`None` if it has none); `fork_source` is the stream a PUT forks, if any.
pub fn authorize(
    need: Need,
    name: &StreamName,
    token: Option<&str>,
    project: Option<&Project>,
    fork_source: Option<&StreamName>,
    now_secs: i64,
) -> Result<Access, ProtocolError> {
    let Some(project) = project else {
        return Err(ProtocolError::new(
            ErrorCode::UnknownProject,
            "this project has no signing secret configured",
        ));
    };
    let Some(token) = token else {
        return match need {
            Need::Read if project.public => Ok(Access::Public),
            Need::Read => Ok(Access::Anonymous),
            Need::Write => Err(ProtocolError::new(
                ErrorCode::AuthRequired,
                "writes need a bearer token with write scope",
            )),
        };
    };
    let claims = jwt::verify(token, &project.secrets, now_secs).map_err(token_error)?;
    check_claims(&claims, need, name, fork_source)?;
    Ok(Access::Token)
}

fn check_claims(
    claims: &Claims,
    need: Need,
    name: &StreamName,
    fork_source: Option<&StreamName>,
) -> Result<(), ProtocolError> {
    if claims.project != name.project {
        return Err(ProtocolError::new(ErrorCode::WrongProject, "the token is for another project"));
    }
    if need == Need::Write && claims.scope != Scope::Write {
        return Err(ProtocolError::new(ErrorCode::InsufficientScope, "writes need a token with write scope"));
    }
    if let Some(only) = &claims.stream_id {
        if *only != name.id {
            return Err(ProtocolError::new(
                ErrorCode::StreamNotAllowed,
                "the token is restricted to another stream",
            ));
        }
        // A fork reads its source: a token for one stream cannot read another this way.
        if fork_source.is_some_and(|s| s.id != *only) {
            return Err(ProtocolError::new(
                ErrorCode::StreamNotAllowed,
                "the token is restricted to one stream and cannot fork another",
            ));
        }
    }
    Ok(())
}

fn token_error(e: TokenError) -> ProtocolError {
    let code = match e {
        TokenError::Expired => ErrorCode::TokenExpired,
        TokenError::NotYetValid => ErrorCode::TokenNotYetValid,
        TokenError::Malformed | TokenError::UnsupportedAlgorithm | TokenError::BadSignature => {
            ErrorCode::InvalidToken
        }
    };
    ProtocolError::new(code, e.message())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const SECRET: &[u8] = b"acme-secret";

    fn acme(id: &str) -> StreamName {
        StreamName { project: "acme".into(), id: id.into() }
    }

    fn token(scope: &str, stream_id: Option<&str>) -> String {
        let mut claims = json!({"sub": "acme", "scope": scope, "exp": NOW + 60});
        if let Some(s) = stream_id {
            claims["stream_id"] = json!(s);
        }
        jwt::sign(SECRET, &claims)
    }

    fn decide(
        need: Need,
        id: &str,
        token: Option<&str>,
        fork: Option<&str>,
    ) -> Result<Access, (u16, &'static str)> {
        let project = Project::with_secrets(vec![SECRET.to_vec()]);
        let fork = fork.map(acme);
        authorize(need, &acme(id), token, Some(&project), fork.as_ref(), NOW)
            .map_err(|e| (e.status(), e.code().as_str()))
    }

    #[test]
    fn reads_without_a_token_are_anonymous_and_writes_need_one() {
        assert_eq!(decide(Need::Read, "s", None, None), Ok(Access::Anonymous));
        assert_eq!(decide(Need::Write, "s", None, None), Err((401, "AUTH_REQUIRED")));
    }

    #[test]
    fn a_public_project_lets_anyone_read_but_not_write() {
        let project = Project { public: true, ..Project::with_secrets(vec![SECRET.to_vec()]) };
        let decide = |need, token| authorize(need, &acme("s"), token, Some(&project), None, NOW);
        assert_eq!(decide(Need::Read, None), Ok(Access::Public));
        assert_eq!(decide(Need::Write, None).unwrap_err().status(), 401);
        let read = token("read", None);
        assert_eq!(decide(Need::Read, Some(&read)), Ok(Access::Token));
        assert_eq!(decide(Need::Write, Some(&read)).unwrap_err().status(), 403);
        // A bad token is refused even where no token would do.
        assert_eq!(decide(Need::Read, Some("not.a.token")).unwrap_err().status(), 401);
    }

    #[test]
    fn scopes() {
        let read = token("read", None);
        let write = token("write", None);
        assert_eq!(decide(Need::Read, "s", Some(&read), None), Ok(Access::Token));
        assert_eq!(decide(Need::Read, "s", Some(&write), None), Ok(Access::Token));
        assert_eq!(decide(Need::Write, "s", Some(&write), None), Ok(Access::Token));
        assert_eq!(decide(Need::Write, "s", Some(&read), None), Err((403, "INSUFFICIENT_SCOPE")));
    }

    #[test]
    fn stream_restrictions_hold_for_reads_writes_and_fork_sources() {
        let only_s = token("write", Some("s"));
        assert_eq!(decide(Need::Read, "s", Some(&only_s), None), Ok(Access::Token));
        assert_eq!(decide(Need::Write, "s", Some(&only_s), None), Ok(Access::Token));
        assert_eq!(decide(Need::Read, "t", Some(&only_s), None), Err((403, "STREAM_NOT_ALLOWED")));
        assert_eq!(decide(Need::Write, "t", Some(&only_s), None), Err((403, "STREAM_NOT_ALLOWED")));
        assert_eq!(decide(Need::Write, "s", Some(&only_s), Some("t")), Err((403, "STREAM_NOT_ALLOWED")));
        assert_eq!(decide(Need::Write, "f", Some(&token("write", None)), Some("t")), Ok(Access::Token));
    }

    #[test]
    fn tokens_of_other_projects_bad_tokens_and_unknown_projects_are_refused() {
        let other = jwt::sign(SECRET, &json!({"sub": "other", "scope": "write", "exp": NOW + 60}));
        assert_eq!(decide(Need::Read, "s", Some(&other), None), Err((403, "WRONG_PROJECT")));
        let expired = jwt::sign(SECRET, &json!({"sub": "acme", "scope": "read", "exp": NOW - 3600}));
        assert_eq!(decide(Need::Read, "s", Some(&expired), None), Err((401, "TOKEN_EXPIRED")));
        let forged = jwt::sign(b"guess", &json!({"sub": "acme", "scope": "write", "exp": NOW + 60}));
        assert_eq!(decide(Need::Read, "s", Some(&forged), None), Err((401, "INVALID_TOKEN")));
        let e = authorize(Need::Read, &acme("s"), None, None, None, NOW).unwrap_err();
        assert_eq!((e.status(), e.code().as_str()), (401, "UNKNOWN_PROJECT"));
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer(None).unwrap(), None);
        assert_eq!(bearer(Some("Bearer abc")).unwrap(), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")).unwrap(), Some("abc"));
        for bad in ["Basic abc", "Bearer", "Bearer ", "abc"] {
            assert_eq!(bearer(Some(bad)).unwrap_err().status(), 401, "{bad}");
        }
    }

    #[test]
    fn the_access_header_round_trips() {
        for a in [Access::Open, Access::Token, Access::Anonymous, Access::Public] {
            assert_eq!(Access::from_header(a.header_value()), a);
        }
        assert_eq!(Access::from_header(Some("admin")), Access::Anonymous);
    }
}
