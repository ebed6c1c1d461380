//! The signed-in staff member as an extractor: taking [`Auth`] in a handler is what makes a
//! route private, and it dereferences to the core's [`Actor`], whose `business_id` is the only
//! business the handler may touch.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use switchboard_core::accounts::{self, Actor};
use switchboard_core::error::AccountError;

use crate::error::ApiError;
use crate::http::AppState;

#[derive(Debug, Clone)]
pub struct Auth(pub Actor);

impl std::ops::Deref for Auth {
    type Target = Actor;
    fn deref(&self) -> &Actor {
        &self.0
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::new(protocol::ErrorCode::MissingToken, "Sign in first: send `Authorization: Bearer <access token>`."))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(AccountError::InvalidToken)?;
        Ok(Auth(accounts::authenticate(state, token).await?))
    }
}
