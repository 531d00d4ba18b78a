//! Names and passwords, checked the same way by the forms in the browser and by the server.

/// Why a name was refused. The message is shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must be between {min} and {max} characters")]
    Length { min: usize, max: usize },
    #[error(
        "may contain only lowercase letters, digits and single '.', '_' or '-' between them, \
         and must start and end with a letter or digit"
    )]
    Grammar,
    #[error("is reserved")]
    Reserved,
}

/// Names Portcullis itself uses where a user's name would go: the subject of its own registry
/// calls, the actor of changes no person made, and visitors. Nobody may take them.
pub const RESERVED_NAMES: [&str; 3] = ["portcullis", "system", "anonymous"];

/// The registry's path-component grammar: `[a-z0-9]+(?:[._-][a-z0-9]+)*`.
pub fn is_path_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Every separator must sit between two alphanumerics.
    bytes.windows(2).all(|w| !sep(w[0]) || alnum(w[1])) && bytes.iter().all(|&b| alnum(b) || sep(b))
}

/// Checks a user (or namespace, or team) name: the path-component grammar, 2 to 64 characters.
pub fn validate_username(name: &str) -> Result<(), NameError> {
    const MIN: usize = 2;
    const MAX: usize = 64;
    if !(MIN..=MAX).contains(&name.len()) {
        return Err(NameError::Length { min: MIN, max: MAX });
    }
    if !is_path_component(name) {
        return Err(NameError::Grammar);
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(NameError::Reserved);
    }
    Ok(())
}

/// Minimum password length (OWASP ASVS 2.1.1).
pub const MIN_PASSWORD_LEN: usize = 8;

/// Maximum password length: long enough for passphrases, short enough to bound argon2 input.
pub const MAX_PASSWORD_LEN: usize = 256;

pub fn validate_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_path_component_grammar() {
        for ok in ["al", "alice", "a1", "bob.smith", "bob_smith", "bob-smith", "a.b-c_d", "0day"] {
            assert_eq!(validate_username(ok), Ok(()), "{ok} should be accepted");
        }
        for bad in [
            "Alice", "al ice", "-alice", "alice-", ".alice", "alice.", "al..ice", "al-.ice", "al__ice", "ålice",
            "al/ice", "al:ice", "alice!", "",
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn username_length_is_bounded() {
        assert_eq!(validate_username("a"), Err(NameError::Length { min: 2, max: 64 }));
        for reserved in RESERVED_NAMES {
            assert_eq!(validate_username(reserved), Err(NameError::Reserved), "{reserved}");
        }
        assert_eq!(validate_username(&"a".repeat(64)), Ok(()));
        assert_eq!(validate_username(&"a".repeat(65)), Err(NameError::Length { min: 2, max: 64 }));
    }

    #[test]
    fn grammar_error_explains_the_rule() {
        let msg = validate_username("Bob").unwrap_err().to_string();
        assert!(msg.contains("lowercase"), "{msg}");
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }
}
