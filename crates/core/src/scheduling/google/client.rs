//! The calls we make to Google: the OAuth token endpoint (exchange a code with its PKCE verifier,
//! refresh, revoke) and the Calendar API (calendar list, `events.list` page by page, `events.watch`,
//! `channels.stop`, and inserting, patching and deleting our events). Both bases come from the
//! configuration, so tests and the demo talk to a local stand-in.
//!
//! Failures are sorted for the callers: [`GoogleError::Gone`] (a sync token Google forgot: sync in
//! full), [`GoogleError::Unauthorized`] (the access token: refresh and try once more),
//! [`GoogleError::InvalidGrant`] (the refresh token is dead: the person must reconnect), and the rest.

use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use super::wire::{ApiErrorBody, CalendarList, Channel, Event, EventsPage, OauthError, TokenResponse};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// 410: the sync token is no longer valid; a full sync is required (or: already deleted).
    #[error("Google no longer knows this sync position (410 Gone)")]
    Gone,
    /// 401: the access token was refused.
    #[error("Google refused the access token")]
    Unauthorized,
    /// The refresh token (or an authorization code) was refused: revoked, expired or used.
    #[error("Google refused the sign-in: {0}")]
    InvalidGrant(String),
    #[error("Google Calendar is not set up on this service")]
    NotConfigured,
    /// 404 on an event or calendar.
    #[error("Google has no such calendar or event")]
    NotFound,
    /// Anything else Google refused (403, 400, …), with its message.
    #[error("Google refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Network trouble, timeouts, 429 and 5xx: worth another try.
    #[error("Google could not be reached: {0}")]
    Unavailable(String),
}

impl GoogleError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, GoogleError::Unavailable(_))
    }
}

pub struct Client {
    http: reqwest::Client,
    api_base: String,
    oauth_base: String,
    client_id: Option<String>,
    client_secret: Option<secrecy::SecretString>,
}

pub const SCOPES: &str = "openid email https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly";

fn network(e: reqwest::Error) -> GoogleError {
    if e.is_timeout() {
        GoogleError::Unavailable("Google did not answer in time".into())
    } else {
        GoogleError::Unavailable("could not connect to Google".into())
    }
}

impl Client {
    pub fn new(config: &crate::Config) -> Client {
        Client {
            http: crate::channels::client::http_client(config),
            api_base: config.google_api_base.trim_end_matches('/').to_owned(),
            oauth_base: config.google_oauth_base.trim_end_matches('/').to_owned(),
            client_id: config.google_client_id.clone().filter(|c| !c.is_empty()),
            client_secret: config.google_client_secret.clone(),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.client_id.is_some()
    }

    fn client_id(&self) -> Result<&str, GoogleError> {
        self.client_id.as_deref().ok_or(GoogleError::NotConfigured)
    }

    /// Where to send the person's browser: Google's consent screen, asking for offline access
    /// (a refresh token) with the PKCE challenge.
    pub fn auth_url(&self, redirect_uri: &str, state: &str, code_challenge: &str) -> Result<String, GoogleError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client_id()?)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPES)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .finish();
        Ok(format!("{}/o/oauth2/v2/auth?{query}", self.oauth_base))
    }

    /// Posts an urlencoded form to Google's OAuth server at `path`.
    async fn post_form(&self, path: &str, form: String) -> Result<reqwest::Response, GoogleError> {
        let request = self.http.post(format!("{}{path}", self.oauth_base)).header("content-type", "application/x-www-form-urlencoded");
        request.body(form).send().await.map_err(network)
    }

    async fn token(&self, fields: &[(&str, &str)]) -> Result<TokenResponse, GoogleError> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("client_id", self.client_id()?);
            if let Some(secret) = &self.client_secret {
                form.append_pair("client_secret", secret.expose_secret());
            }
            for (k, v) in fields {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let response = self.post_form("/o/oauth2/token", body).await?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(network)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|_| GoogleError::Unavailable("Google's token answer was not readable".into()));
        }
        let error: OauthError = serde_json::from_slice(&body).unwrap_or_default();
        match (status, error.error.as_str()) {
            (_, "invalid_grant") => Err(GoogleError::InvalidGrant(error.error_description.unwrap_or_else(|| "invalid_grant".into()))),
            (429 | 500..=599, _) => Err(GoogleError::Unavailable(format!("Google's sign-in answered {status}"))),
            _ => Err(GoogleError::Refused { status, message: error.error_description.unwrap_or(error.error) }),
        }
    }

    /// Exchanges the authorization code (with the PKCE verifier) for tokens.
    pub async fn exchange_code(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<TokenResponse, GoogleError> {
        self.token(&[("grant_type", "authorization_code"), ("code", code), ("code_verifier", verifier), ("redirect_uri", redirect_uri)]).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, GoogleError> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Revokes a token (disconnecting). Google forgetting it already is fine.
    pub async fn revoke(&self, token: &str) -> Result<(), GoogleError> {
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("token", token).finish();
        let status = self.post_form("/o/oauth2/revoke", body).await?.status().as_u16();
        if status < 300 || status == 400 {
            Ok(())
        } else {
            Err(GoogleError::Unavailable(format!("revoking answered {status}")))
        }
    }

    async fn api<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, access_token: &str) -> Result<T, GoogleError> {
        let response = request.bearer_auth(access_token).send().await.map_err(network)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(network)?;
        if (200..300).contains(&status) {
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(body).map_err(|_| GoogleError::Unavailable("Google's answer was not readable".into()));
        }
        let error: ApiErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        Err(match status {
            401 => GoogleError::Unauthorized,
            404 => GoogleError::NotFound,
            410 => GoogleError::Gone,
            429 | 500..=599 => GoogleError::Unavailable(format!("Google answered {status}")),
            403 if error.error.errors.iter().any(|e| e.reason.contains("ateLimitExceeded")) => GoogleError::Unavailable("Google's rate limit".into()),
            _ => GoogleError::Refused { status, message: error.error.message },
        })
    }

    fn calendar_url(&self, calendar_id: &str, rest: &str) -> String {
        let id: String = form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect();
        format!("{}/calendars/{id}{rest}", self.api_base)
    }

    pub async fn calendar_list(&self, access_token: &str) -> Result<CalendarList, GoogleError> {
        let mut all = CalendarList::default();
        let mut page: Option<String> = None;
        loop {
            let mut request = self.http.get(format!("{}/users/me/calendarList", self.api_base));
            if let Some(p) = &page {
                request = request.query(&[("pageToken", p)]);
            }
            let answer: CalendarList = self.api(request, access_token).await?;
            all.items.extend(answer.items);
            match answer.next_page_token {
                Some(next) => page = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// One page of events: incremental with `sync_token`, otherwise a full listing from `time_min`.
    pub async fn list_events(
        &self,
        access_token: &str,
        calendar_id: &str,
        sync_token: Option<&str>,
        time_min: Option<&str>,
        page_token: Option<&str>,
    ) -> Result<EventsPage, GoogleError> {
        let mut query: Vec<(&str, &str)> = vec![("singleEvents", "true"), ("maxResults", "250")];
        match sync_token {
            Some(token) => query.push(("syncToken", token)),
            None => {
                query.push(("showDeleted", "false"));
                if let Some(t) = time_min {
                    query.push(("timeMin", t));
                }
            }
        }
        if let Some(p) = page_token {
            query.push(("pageToken", p));
        }
        self.api(self.http.get(self.calendar_url(calendar_id, "/events")).query(&query), access_token).await
    }

    /// Opens a push channel on the calendar's events.
    pub async fn watch(&self, access_token: &str, calendar_id: &str, channel: &Channel) -> Result<Channel, GoogleError> {
        self.api(self.http.post(self.calendar_url(calendar_id, "/events/watch")).json(channel), access_token).await
    }

    /// Stops a push channel. One Google no longer knows is stopped already.
    pub async fn stop(&self, access_token: &str, id: &str, resource_id: &str) -> Result<(), GoogleError> {
        let channel = Channel { id: id.to_owned(), resource_id: Some(resource_id.to_owned()), ..Channel::default() };
        match self.api::<serde_json::Value>(self.http.post(format!("{}/channels/stop", self.api_base)).json(&channel), access_token).await {
            Ok(_) | Err(GoogleError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn insert_event(&self, access_token: &str, calendar_id: &str, event: &Event) -> Result<Event, GoogleError> {
        self.api(self.http.post(self.calendar_url(calendar_id, "/events")).json(event), access_token).await
    }

    pub async fn patch_event(&self, access_token: &str, calendar_id: &str, event_id: &str, event: &Event) -> Result<Event, GoogleError> {
        let id: String = form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
        self.api(self.http.patch(self.calendar_url(calendar_id, &format!("/events/{id}"))).json(event), access_token).await
    }

    /// Deletes an event; one already gone (404, 410) counts as deleted.
    pub async fn delete_event(&self, access_token: &str, calendar_id: &str, event_id: &str) -> Result<(), GoogleError> {
        let id: String = form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
        match self.api::<serde_json::Value>(self.http.delete(self.calendar_url(calendar_id, &format!("/events/{id}"))), access_token).await {
            Ok(_) | Err(GoogleError::NotFound) | Err(GoogleError::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
