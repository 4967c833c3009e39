//! Who may do what in the subscription API, with the same per-project tokens as core.
//!
//! - Publishing needs write scope on the source stream.
//! - Subscribing, unsubscribing, touching and deleting a session need write scope, or a
//!   token bound to that session (its `stream_id` claim is the session id).
//! - Reading a session needs a token for it: bound to it, or for the whole project.
//!
//! Tokens are verified by [`durable_streams_cloudflare::auth::jwt`]; this module decides
//! on the verified claims, so every refusal names what was missing.

use durable_streams_cloudflare::auth::jwt::{Claims, Scope};
use durable_streams_cloudflare::protocol::{ErrorCode, ProtocolError};

use crate::ids::Session;

/// What a request does, for the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Appends to the source stream `stream` and fans out.
    Publish {
        /// The source stream's id.
        stream: &'a str,
    },
    /// Changes what `session` follows, or keeps it alive, or ends it.
    Manage {
        /// The session.
        session: &'a Session,
    },
    /// Reads `session`'s state.
    Read {
        /// The session.
        session: &'a Session,
    },
}

impl Action<'_> {
    fn project(&self) -> Option<&str> {
        match self {
            Self::Publish { .. } => None,
            Self::Manage { session } | Self::Read { session } => Some(&session.project),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Self::Publish { .. } => "publishing needs a token with write scope for the stream",
            Self::Manage { .. } => "this needs a token with write scope, or one bound to the session",
            Self::Read { .. } => "reading a session needs a token for the project or bound to the session",
        }
    }
}

/// Decides `action` in `project` for a request with these verified claims (`None`: no
/// token was sent).
pub fn decide(project: &str, action: Action<'_>, claims: Option<&Claims>) -> Result<(), ProtocolError> {
    let Some(claims) = claims else {
        return Err(ProtocolError::new(ErrorCode::AuthRequired, action.what()));
    };
    if claims.project != project || action.project().is_some_and(|p| p != claims.project) {
        return Err(ProtocolError::new(ErrorCode::WrongProject, "the token is for another project"));
    }
    let bound_to = claims.stream_id.as_deref();
    let allowed = match action {
        Action::Publish { stream } => claims.scope == Scope::Write && bound_to.is_none_or(|s| s == stream),
        Action::Manage { session } => match bound_to {
            Some(id) => id == session.id,
            None => claims.scope == Scope::Write,
        },
        Action::Read { session } => bound_to.is_none_or(|id| id == session.id),
    };
    if allowed {
        return Ok(());
    }
    let code = match (action, bound_to) {
        (_, Some(_)) => ErrorCode::StreamNotAllowed,
        _ => ErrorCode::InsufficientScope,
    };
    Err(ProtocolError::new(code, action.what()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: Scope, bound: Option<&str>) -> Claims {
        Claims { project: "acme".into(), scope, expires_at: i64::MAX, stream_id: bound.map(str::to_owned) }
    }

    fn code(r: Result<(), ProtocolError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code())
    }

    #[test]
    fn publishing_needs_write_scope_on_the_source() {
        let publish = Action::Publish { stream: "chat" };
        assert_eq!(code(decide("acme", publish, None)), Some(ErrorCode::AuthRequired));
        assert_eq!(
            code(decide("acme", publish, Some(&claims(Scope::Read, None)))),
            Some(ErrorCode::InsufficientScope)
        );
        assert_eq!(code(decide("acme", publish, Some(&claims(Scope::Write, None)))), None);
        assert_eq!(code(decide("acme", publish, Some(&claims(Scope::Write, Some("chat"))))), None);
        let other = decide("acme", publish, Some(&claims(Scope::Write, Some("news"))));
        assert_eq!(code(other), Some(ErrorCode::StreamNotAllowed));
        assert_eq!(
            code(decide("other", publish, Some(&claims(Scope::Write, None)))),
            Some(ErrorCode::WrongProject)
        );
    }

    #[test]
    fn a_session_is_managed_with_write_scope_or_its_own_token() {
        let s = Session::new("acme", "u1").unwrap();
        let manage = Action::Manage { session: &s };
        assert_eq!(code(decide("acme", manage, Some(&claims(Scope::Write, None)))), None);
        assert_eq!(code(decide("acme", manage, Some(&claims(Scope::Read, Some("u1"))))), None);
        assert_eq!(
            code(decide("acme", manage, Some(&claims(Scope::Read, None)))),
            Some(ErrorCode::InsufficientScope)
        );
        assert_eq!(
            code(decide("acme", manage, Some(&claims(Scope::Write, Some("u2"))))),
            Some(ErrorCode::StreamNotAllowed)
        );
    }

    #[test]
    fn a_session_is_read_with_a_token_for_it() {
        let s = Session::new("acme", "u1").unwrap();
        let read = Action::Read { session: &s };
        assert_eq!(code(decide("acme", read, Some(&claims(Scope::Read, None)))), None);
        assert_eq!(code(decide("acme", read, Some(&claims(Scope::Read, Some("u1"))))), None);
        assert_eq!(
            code(decide("acme", read, Some(&claims(Scope::Read, Some("u2"))))),
            Some(ErrorCode::StreamNotAllowed)
        );
        let e = decide("acme", read, None).unwrap_err();
        assert!(e.message().contains("reading a session"), "{e}");
    }
}
