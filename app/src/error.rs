//! The one error type that crosses the server-function boundary.
//!
//! Policy: the variants carry messages meant for the user. Internal failures (database down,
//! a bug) are logged on the server once, where they happen, and reach the browser only as
//! `Internal`, with no detail.

use leptos::server_fn::error::ServerFnErrorErr;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A field of a form was invalid: `field` names the input, `message` says why.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Not signed in, or wrong credentials. The message never says which part was wrong.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The request itself was malformed.
    #[error("{0}")]
    BadRequest(String),
    #[error("something went wrong on our side; it has been logged")]
    Internal,
    #[error("request failed: {0}")]
    Transport(String),
    /// A service Portcullis depends on (the directory) does not answer: try again later.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl ToString) -> Self {
        Self::Invalid { field: field.into(), message: message.to_string() }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    /// The form field this error belongs to, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message without the field prefix.
    pub fn message(&self) -> String {
        match self {
            Self::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } => 422,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooManyRequests(_) => 429,
            Self::BadRequest(_) => 400,
            Self::Internal => 500,
            Self::Transport(_) => 400,
            Self::Unavailable(_) => 503,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = crate::api::JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::ServerError(_) => Self::Internal,
            other => Self::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // Text PostgreSQL cannot store (a NUL character) is the request's fault, not ours.
        if let sqlx::Error::Database(d) = &e {
            if matches!(d.code().as_deref(), Some("22021" | "22P05")) {
                return Self::BadRequest("text may not contain NUL or other unstorable characters".into());
            }
        }
        tracing::error!(error = %e, "database error");
        Self::Internal
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Unique keys as field errors, in the manner of realworld-axum-sqlx's `on_constraint`.
#[cfg(feature = "ssr")]
pub trait OnConstraint<T> {
    /// A violation of one of the named constraints becomes its error; any other database
    /// error becomes what `AppError::from` makes of it.
    fn on_constraint(self, errors: &[(&str, AppError)]) -> AppResult<T>;
}

#[cfg(feature = "ssr")]
impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, errors: &[(&str, AppError)]) -> AppResult<T> {
        self.map_err(|e| {
            let violated = match &e {
                sqlx::Error::Database(d) => d.constraint().map(str::to_string),
                _ => None,
            };
            match errors.iter().find(|(name, _)| violated.as_deref() == Some(*name)) {
                Some((_, error)) => error.clone(),
                None => e.into(),
            }
        })
    }
}
