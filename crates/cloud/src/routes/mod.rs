//! The API's routes, one module per area of the core — and one per provider ([`whatsapp`],
//! [`twilio`], [`vapi`], [`retell`]: its set-up and its webhooks). Handlers only extract, call the
//! core and shape the answer.

/// Declares the API's plain endpoints: a signed-in staff member's request that the handler only
/// extracts, hands to one core function and answers with its result. Each is written once, as
///
/// ```text
/// /// What it does (the OpenAPI summary).
/// get "/v1/services/{id}" in "services" => get_service(id "Service id") -> Service [404] = catalog::services::get_service;
/// ```
///
/// and becomes the handler with its `#[utoipa::path]`: bearer security, the arguments' parameters
/// and request body, the answer's status and body, and each listed error status with the error
/// body. Arguments, in the order the core function takes them after the state and the caller:
/// `id "description"` (the path's `{id}`), `page` (`cursor` and `limit`) and `body Type` (a JSON
/// request body). Answers: `-> Type` (200), `-> Page<Type>` (200, a page of them), `-> Created<Type>`
/// (201) and `-> NoContent` (204). Endpoints with other extractors are written out by hand. The
/// extractors are the API's own (`crate::http::extract`), whatever the module imports.
macro_rules! endpoint {
    ($($(#[doc = $doc:tt])* $method:ident $path:tt in $tag:tt => $name:ident($($args:tt)*) -> $($answer:ident)? $(<$item:ident>)? [$($error:tt),*] = $($f:ident)::+;)*) => {
        $(endpoint!(@args [[$(#[doc = $doc])*] $method $path $tag $name [$($answer)? $(<$item>)?] [$($error),*] [$($f)::+]] [] [] [] []; $($args)*);)*
    };
    // Arguments, one at a time: extractors, call arguments, parameters, request body.
    (@args $head:tt [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*]; id $description:tt $(, $($rest:tt)*)?) => {
        endpoint!(@args $head [$($ext)* $crate::http::extract::Path(id): $crate::http::extract::Path<String>,] [$($call)* &id,] [$($params)* ("id" = String, Path, description = $description),] [$($req)*]; $($($rest)*)?);
    };
    (@args $head:tt [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*]; page $(, $($rest:tt)*)?) => {
        endpoint!(@args $head
            [$($ext)* $crate::http::extract::Query(page): $crate::http::extract::Query<switchboard_core::store::PageQuery>,] [$($call)* page,]
            [$($params)* ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50."),]
            [$($req)*]; $($($rest)*)?);
    };
    (@args $head:tt [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*]; body $body:ident $(, $($rest:tt)*)?) => {
        endpoint!(@args $head [$($ext)* $crate::http::extract::Json(req): $crate::http::extract::Json<$body>,] [$($call)* req,] [$($params)*] [request_body = $body,]; $($($rest)*)?);
    };
    // The answer.
    (@args [[$($doc:tt)*] $method:ident $path:tt $tag:tt $name:ident [Page<$item:ident>] [$($error:tt),*] [$($f:tt)*]] [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*];) => {
        $($doc)*
        #[utoipa::path($method, path = $path, tag = $tag, security(("bearer" = [])), $($req)* params($($params)*),
            responses((status = 200, body = protocol::Page<$item>) $(, (status = $error, body = protocol::ErrorBody))*))]
        async fn $name(axum::extract::State(state): axum::extract::State<$crate::http::AppState>, auth: $crate::http::auth::Auth, $($ext)*) -> Result<axum::Json<protocol::Page<$item>>, $crate::error::ApiError> {
            Ok(axum::Json($($f)*(&state, &auth, $($call)*).await?))
        }
    };
    (@args [[$($doc:tt)*] $method:ident $path:tt $tag:tt $name:ident [Created<$item:ident>] [$($error:tt),*] [$($f:tt)*]] [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*];) => {
        $($doc)*
        #[utoipa::path($method, path = $path, tag = $tag, security(("bearer" = [])), $($req)* params($($params)*),
            responses((status = 201, body = $item) $(, (status = $error, body = protocol::ErrorBody))*))]
        async fn $name(axum::extract::State(state): axum::extract::State<$crate::http::AppState>, auth: $crate::http::auth::Auth, $($ext)*) -> Result<(axum::http::StatusCode, axum::Json<$item>), $crate::error::ApiError> {
            Ok((axum::http::StatusCode::CREATED, axum::Json($($f)*(&state, &auth, $($call)*).await?)))
        }
    };
    (@args [[$($doc:tt)*] $method:ident $path:tt $tag:tt $name:ident [NoContent] [$($error:tt),*] [$($f:tt)*]] [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*];) => {
        $($doc)*
        #[utoipa::path($method, path = $path, tag = $tag, security(("bearer" = [])), $($req)* params($($params)*),
            responses((status = 204) $(, (status = $error, body = protocol::ErrorBody))*))]
        async fn $name(axum::extract::State(state): axum::extract::State<$crate::http::AppState>, auth: $crate::http::auth::Auth, $($ext)*) -> Result<axum::http::StatusCode, $crate::error::ApiError> {
            $($f)*(&state, &auth, $($call)*).await?;
            Ok(axum::http::StatusCode::NO_CONTENT)
        }
    };
    (@args [[$($doc:tt)*] $method:ident $path:tt $tag:tt $name:ident [$item:ident] [$($error:tt),*] [$($f:tt)*]] [$($ext:tt)*] [$($call:tt)*] [$($params:tt)*] [$($req:tt)*];) => {
        $($doc)*
        #[utoipa::path($method, path = $path, tag = $tag, security(("bearer" = [])), $($req)* params($($params)*),
            responses((status = 200, body = $item) $(, (status = $error, body = protocol::ErrorBody))*))]
        async fn $name(axum::extract::State(state): axum::extract::State<$crate::http::AppState>, auth: $crate::http::auth::Auth, $($ext)*) -> Result<axum::Json<$item>, $crate::error::ApiError> {
            Ok(axum::Json($($f)*(&state, &auth, $($call)*).await?))
        }
    };
}

pub mod accounts;
pub mod automations;
pub mod bookings;
pub mod business;
pub mod calendar_feeds;
pub mod canned_responses;
pub mod channels;
pub mod control;
pub mod conversations;
pub mod customers;
pub mod google_calendar;
pub mod live;
pub mod media;
pub mod outbox;
pub mod privacy;
pub mod reports;
pub mod retell;
pub mod schedule;
pub mod security;
pub mod services;
pub mod setup;
pub mod staff;
pub mod sync;
pub mod twilio;
pub mod vapi;
pub mod webhook_events;
pub mod whatsapp;
