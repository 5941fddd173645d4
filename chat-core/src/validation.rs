//! Input rules, checked once by the service before anything reaches a store.

use crate::{Limits, ValidationError};

/// Checks a username: length within limits; letters, digits, `_`, `-`, `.` only.
pub fn username(limits: &Limits, name: &str) -> Result<(), ValidationError> {
    let len = name.chars().count();
    if len < limits.username_min || len > limits.username_max {
        return Err(ValidationError::UsernameLength {
            min: limits.username_min,
            max: limits.username_max,
        });
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ValidationError::UsernameCharacters);
    }
    Ok(())
}

/// Checks a password's length (any characters are allowed).
pub fn password(limits: &Limits, password: &str) -> Result<(), ValidationError> {
    let len = password.chars().count();
    if len < limits.password_min || len > limits.password_max {
        return Err(ValidationError::PasswordLength {
            min: limits.password_min,
            max: limits.password_max,
        });
    }
    Ok(())
}

/// Checks a room name and returns it trimmed: 1 to `room_name_max` characters, no control characters.
pub fn room_name<'a>(limits: &Limits, name: &'a str) -> Result<&'a str, ValidationError> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > limits.room_name_max {
        return Err(ValidationError::RoomNameLength {
            max: limits.room_name_max,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::RoomNameCharacters);
    }
    Ok(name)
}

/// Checks a room description and returns it trimmed.
pub fn description<'a>(limits: &Limits, text: &'a str) -> Result<&'a str, ValidationError> {
    let text = text.trim();
    if text.chars().count() > limits.description_max {
        return Err(ValidationError::DescriptionLength {
            max: limits.description_max,
        });
    }
    Ok(text)
}

/// Checks a message body and returns it trimmed: 1 to `body_max` characters, no NUL.
pub fn body<'a>(limits: &Limits, body: &'a str) -> Result<&'a str, ValidationError> {
    if body.contains('\0') {
        return Err(ValidationError::BodyNul);
    }
    let body = body.trim();
    if body.is_empty() {
        return Err(ValidationError::BodyEmpty);
    }
    if body.chars().count() > limits.body_max {
        return Err(ValidationError::BodyTooLong {
            max: limits.body_max,
        });
    }
    Ok(body)
}

/// Checks a client-chosen idempotency id: 1 to `client_id_max` characters.
pub fn client_id(limits: &Limits, id: &str) -> Result<(), ValidationError> {
    let len = id.chars().count();
    if len == 0 || len > limits.client_id_max {
        return Err(ValidationError::ClientIdLength {
            max: limits.client_id_max,
        });
    }
    Ok(())
}

/// Checks a search query and returns it trimmed.
pub fn search_query<'a>(limits: &Limits, q: &'a str) -> Result<&'a str, ValidationError> {
    let q = q.trim();
    let len = q.chars().count();
    if len == 0 || len > limits.search_query_max {
        return Err(ValidationError::SearchQueryLength {
            max: limits.search_query_max,
        });
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames() {
        let l = Limits::default();
        assert!(username(&l, "bob").is_ok());
        assert!(username(&l, "a.b-c_9").is_ok());
        assert!(matches!(
            username(&l, "ab"),
            Err(ValidationError::UsernameLength { .. })
        ));
        assert!(username(&l, &"x".repeat(33)).is_err());
        assert!(username(&l, &"x".repeat(32)).is_ok());
        assert_eq!(
            username(&l, "bo b"),
            Err(ValidationError::UsernameCharacters)
        );
        assert_eq!(
            username(&l, "<script>"),
            Err(ValidationError::UsernameCharacters)
        );
    }

    #[test]
    fn bodies() {
        let l = Limits::default();
        assert_eq!(body(&l, "  hi \n"), Ok("hi"));
        assert_eq!(body(&l, "   "), Err(ValidationError::BodyEmpty));
        assert_eq!(body(&l, "a\0b"), Err(ValidationError::BodyNul));
        assert!(body(&l, &"é".repeat(4000)).is_ok());
        assert!(body(&l, &"é".repeat(4001)).is_err());
    }

    #[test]
    fn room_names() {
        let l = Limits::default();
        assert_eq!(room_name(&l, " General "), Ok("General"));
        assert!(room_name(&l, "").is_err());
        assert_eq!(
            room_name(&l, "a\u{7}b"),
            Err(ValidationError::RoomNameCharacters)
        );
        assert!(room_name(&l, &"r".repeat(65)).is_err());
    }

    proptest! {
        #[test]
        fn accepted_bodies_are_trimmed_and_bounded(s in "\\PC{0,50}") {
            let l = Limits { body_max: 20, ..Limits::default() };
            if let Ok(b) = body(&l, &s) {
                prop_assert!(!b.is_empty());
                prop_assert!(b.chars().count() <= 20);
                prop_assert_eq!(b, b.trim());
            }
        }

        #[test]
        fn accepted_usernames_are_safe(s in "\\PC{0,40}") {
            if username(&Limits::default(), &s).is_ok() {
                prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)));
            }
        }
    }
}
