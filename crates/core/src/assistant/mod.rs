//! The AI receptionist.
//!
//! When a customer writes in a conversation the assistant answers, a job is queued in the same
//! transaction as their message. The worker runs the turn outside any database transaction: the
//! model reads the conversation and calls tools that the scheduling engine and the store answer
//! (never invented). Its reply is committed only if the conversation is still the assistant's — a
//! person who took over while the model was thinking wins, and the discarded reply goes to the
//! audit log, unsent. When the model is down, rate-limited past its retries, or keeps sending
//! malformed tool calls, the conversation is escalated and the customer gets one polite holding
//! reply: they are never left without an answer.
//!
//! Booking needs the customer's explicit confirmation of service and time: the `book` tool
//! refuses unless the model says the customer confirmed, and the instructions say to ask first.

pub mod builtin;
pub mod llm;
pub mod when;

use crate::Core;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use protocol::{AssistantSettings, AuthorKind, BookingSource, BookingStatus, Conversation, ControlMode, Customer, Direction, Message, MessageKind};
use serde_json::{json, Value};
use sqlx::Row;

use crate::scheduling::bookings::{BookingChange, NewBooking};
use crate::error::Error;
use crate::assistant::llm::{Llm, LlmError};
use crate::channels::Outgoing;
use crate::store::columns::read_row;
use crate::store::{BusinessTx, StoreError};

/// Tool rounds in one turn before the assistant gives up and asks for a person.
const MAX_ROUNDS: usize = 6;
/// Malformed tool calls tolerated in one turn.
const MAX_MALFORMED: usize = 2;
const HISTORY: i64 = 30;
/// Longer than the longest turn (six model rounds, each with its retries and timeouts).
const LEASE_MS: i64 = 15 * 60_000;

pub const HOLDING_REPLY: &str =
    "Thanks for your patience! I've asked a member of our team to take it from here — they'll reply in this chat shortly.";

/// Queues a turn for a customer's new message, if the assistant answers this conversation.
pub async fn enqueue(tx: &mut BusinessTx, conversation: &Conversation, message_id: &str) -> Result<(), Error> {
    if conversation.mode != ControlMode::Ai {
        return Ok(());
    }
    let business_id = tx.business_id().to_owned();
    let settings = crate::conversations::takeover::load_settings(tx.conn(), &business_id).await?;
    if !settings.enabled {
        // Nobody would answer: show it as waiting for a person rather than "assistant handling".
        crate::conversations::takeover::wait_for_people(tx, &[conversation.id.as_str()]).await?;
        return Ok(());
    }
    let now = tx.now_ms();
    sqlx::query(
        "INSERT INTO assistant_jobs (id, business_id, conversation_id, trigger_message_id, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $5, $5) ON CONFLICT (trigger_message_id, business_id) DO NOTHING",
    )
    .bind(tx.new_id::<String>())
    .bind(&business_id)
    .bind(&conversation.id)
    .bind(message_id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    // The turn is taken at once (here and on the other instances), once this commits.
    tx.wake(crate::workers::Job::Assistant);
    Ok(())
}

/// [`enqueue`] for several messages at once (each with its conversation as it is now), with one
/// statement per few dozen.
pub(crate) async fn enqueue_many(tx: &mut BusinessTx, messages: &[(&Conversation, &str)]) -> Result<(), Error> {
    let messages: Vec<&(&Conversation, &str)> = messages.iter().filter(|(c, _)| c.mode == ControlMode::Ai).collect();
    if messages.is_empty() {
        return Ok(());
    }
    let business_id = tx.business_id().to_owned();
    let settings = crate::conversations::takeover::load_settings(tx.conn(), &business_id).await?;
    if !settings.enabled {
        // Nobody would answer: show each as waiting for a person rather than "assistant handling".
        let mut waiting: Vec<&str> = Vec::new();
        for (conversation, _) in messages {
            if !waiting.contains(&conversation.id.as_str()) {
                waiting.push(conversation.id.as_str());
            }
        }
        return crate::conversations::takeover::wait_for_people(tx, &waiting).await;
    }
    let now = tx.now_ms();
    for chunk in messages.chunks(crate::store::rows_per_statement(3)) {
        let values: Vec<String> = (0..chunk.len()).map(|r| format!("(${}, $1, ${}, ${}, 'queued', $2, $2, $2)", 3 * r + 3, 3 * r + 4, 3 * r + 5)).collect();
        let sql = format!(
            "INSERT INTO assistant_jobs (id, business_id, conversation_id, trigger_message_id, status, next_attempt_at, created_at, updated_at) \
             VALUES {} ON CONFLICT (trigger_message_id, business_id) DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(&business_id).bind(now);
        for (conversation, message_id) in chunk {
            query = query.bind(tx.new_id::<String>()).bind(conversation.id.to_string()).bind(*message_id);
        }
        query.execute(tx.conn()).await?;
    }
    tx.wake(crate::workers::Job::Assistant);
    Ok(())
}

struct Job {
    id: String,
    business_id: String,
    conversation_id: String,
    trigger_message_id: String,
}

async fn claim(state: &Core) -> Result<Vec<Job>, StoreError> {
    let now = state.db.now_ms();
    // A turn whose worker died is simply run again.
    // Looked for through a reader first: the writer (SQLite's only one) is not waited for on
    // every step for what is nearly always nothing.
    let stale: Option<i64> = sqlx::query_scalar("SELECT 1 FROM assistant_jobs WHERE status = 'running' AND lease_until < $1 LIMIT 1").bind(now).fetch_optional(state.db.reader()).await?;
    if stale.is_some() {
        sqlx::query("UPDATE assistant_jobs SET status = 'queued' WHERE status = 'running' AND lease_until < $1").bind(now).execute(state.db.writer()).await?;
    }
    // One turn at a time per conversation (a unique index holds it across instances too): the
    // oldest due job of each conversation that has none running.
    let candidates = sqlx::query(
        "SELECT j.id, j.conversation_id FROM assistant_jobs j WHERE j.status = 'queued' AND j.next_attempt_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM assistant_jobs r WHERE r.conversation_id = j.conversation_id AND r.business_id = j.business_id AND r.status = 'running') \
         ORDER BY j.next_attempt_at LIMIT 16",
    )
    .bind(now)
    .fetch_all(state.db.reader())
    .await?;
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for row in &candidates {
        let conversation: String = row.try_get("conversation_id")?;
        if seen.insert(conversation) && ids.len() < 4 {
            ids.push(row.try_get::<String, _>("id")?);
        }
    }
    let mut rows = Vec::new();
    for id in ids {
        let claimed = sqlx::query(
            "UPDATE assistant_jobs SET status = 'running', lease_until = $2, attempts = attempts + 1, updated_at = $1 WHERE id = $3 AND status = 'queued' \
             RETURNING id, business_id, conversation_id, trigger_message_id",
        )
        .bind(now)
        .bind(now + LEASE_MS)
        .bind(&id)
        .fetch_optional(state.db.writer())
        .await;
        match claimed {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            Err(e) => {
                let e = StoreError::from(e);
                // Another instance started a turn for this conversation meanwhile.
                if !e.is_unique_violation() {
                    return Err(e);
                }
            }
        }
    }
    rows.iter()
        .map(|r| {
            Ok(read_row!(r => Job { id, business_id, conversation_id, trigger_message_id }))
        })
        .collect()
}

/// Marks a job's end: its status, why it failed, when.
const FINISH: &str = "UPDATE assistant_jobs SET status = $1, last_error = $2, lease_until = NULL, updated_at = $3 WHERE id = $4";

async fn finish_job(state: &Core, job: &Job, status: &str, error: Option<&str>) -> Result<(), StoreError> {
    sqlx::query(FINISH)
        .bind(status)
        .bind(error)
        .bind(state.db.now_ms())
        .bind(&job.id)
        .execute(state.db.writer())
        .await?;
    Ok(())
}

/// Everything a turn reads.
pub struct Context {
    pub business_id: String,
    pub business_name: String,
    pub tz: TimeZone,
    pub conversation: Conversation,
    pub customer: Customer,
    pub history: Vec<Message>,
    pub settings: AssistantSettings,
    /// Who books: the chat assistant or a voice call.
    pub source: BookingSource,
    /// When the turn runs (the service's clock).
    pub now: Timestamp,
}

async fn load_context(state: &Core, job: &Job) -> Result<Context, Error> {
    let mut conn = state.db.reader().acquire().await?;
    let business = crate::accounts::business::load(&mut conn, &job.business_id).await?;
    let conversation = crate::conversations::load(&mut conn, &job.business_id, &job.conversation_id)
        .await?
        .ok_or_else(|| Error::NotFound("conversation"))?;
    let customer = crate::customers::load_any(&mut conn, &job.business_id, &conversation.customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    // The last HISTORY messages in one statement, oldest first.
    let sql = format!(
        "SELECT {} FROM messages WHERE conversation_id = $1 AND business_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
        crate::conversations::MESSAGE_COLUMNS
    );
    let rows = sqlx::query(&sql).bind(&job.conversation_id).bind(&job.business_id).bind(HISTORY).fetch_all(&mut *conn).await?;
    let history = rows.iter().rev().map(crate::conversations::message_from_row).collect::<Result<Vec<_>, _>>()?;
    let settings = crate::conversations::takeover::load_settings(&mut conn, &job.business_id).await?;
    Ok(Context {
        business_id: job.business_id.clone(),
        business_name: business.name,
        tz: TimeZone::get(&business.timezone).map_err(Error::internal)?,
        conversation,
        customer,
        history,
        settings,
        source: BookingSource::Assistant,
        now: state.db.now().as_jiff(),
    })
}

/// What a turn decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Reply(String),
    /// Ask for a person; `reason` is for staff.
    Escalate(String),
}

/// Runs one job to its end.
async fn run_job(state: &Core, job: Job) {
    let result = turn(state, &job).await;
    let recorded = match result {
        Ok(Ended::Recorded) => Ok(()),
        Ok(Ended::Unrecorded) => finish_job(state, &job, "done", None).await,
        Err(e) => {
            tracing::error!(error = %e, conversation = %job.conversation_id, "assistant turn failed; asking for a person");
            // The customer is never left without a reply: escalate now rather than retry into
            // silence (the model already had its own retries). Details stay in the log.
            let escalated = escalate_with_holding_reply(state, &job.business_id, &job.conversation_id, "the assistant ran into a problem").await;
            if let Err(e2) = escalated {
                tracing::error!(error = %e2, "could not escalate after an assistant failure");
            }
            finish_job(state, &job, "failed", Some(&e.to_string())).await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, job = %job.id, "could not record an assistant job's end");
    }
}

/// How a turn that went well ended: whether its job is already marked done.
enum Ended {
    /// In the transaction that committed the reply (one commit fewer for the single SQLite
    /// writer, between a reply and the next webhook).
    Recorded,
    /// Nothing to say, or an escalation: [`finish_job`] marks it.
    Unrecorded,
}

async fn turn(state: &Core, job: &Job) -> Result<Ended, Error> {
    let ctx = load_context(state, job).await?;
    if ctx.conversation.mode != ControlMode::Ai {
        return Ok(Ended::Unrecorded); // A person has it now.
    }
    // Already answered (the turn of a later message covered this one).
    let trigger_at = ctx.history.iter().position(|m| m.id == job.trigger_message_id);
    if let Some(i) = trigger_at {
        if ctx.history[i + 1..].iter().any(|m| m.direction == Direction::Outbound && m.kind != MessageKind::Event) {
            return Ok(Ended::Unrecorded);
        }
    }
    // With a model configured, the model; otherwise the built-in engine (the embedded default).
    let (outcome, memory) = match state.llm.as_ref() {
        Some(llm) => match run_llm(state, llm, &ctx).await {
            Ok(outcome) => (outcome, None),
            Err(e) => {
                tracing::warn!(error = %e, "the language model could not answer");
                (Outcome::Escalate("the assistant could not reach its language model".into()), None)
            }
        },
        None => {
            let (outcome, memory) = crate::assistant::builtin::run(state, &ctx).await?;
            (outcome, Some(memory))
        }
    };
    commit(state, job, &ctx, outcome, memory).await
}

/// Commits the turn's outcome if the conversation is still the assistant's. The built-in
/// engine's memory (a proposal awaiting a yes) is kept only with the reply that made it.
async fn commit(state: &Core, job: &Job, ctx: &Context, outcome: Outcome, memory: Option<String>) -> Result<Ended, Error> {
    match outcome {
        Outcome::Escalate(reason) => {
            escalate_with_holding_reply(state, &ctx.business_id, &ctx.conversation.id, &reason).await?;
            Ok(Ended::Unrecorded)
        }
        Outcome::Reply(text) => {
            let mut tx = state.db.begin_business(&ctx.business_id).await?;
            let row = sqlx::query("SELECT mode, channel FROM conversations WHERE id = $1 AND business_id = $2").bind(&ctx.conversation.id).bind(&ctx.business_id).fetch_one(tx.conn()).await?;
            let (mode, channel): (String, String) = (row.try_get("mode")?, row.try_get("channel")?);
            sqlx::query(FINISH).bind("done").bind(None::<&str>).bind(tx.now_ms()).bind(&job.id).execute(tx.conn()).await?;
            if mode != ControlMode::Ai.as_str() {
                tx.audit(None, "assistant.reply_discarded", Some(("conversation", &ctx.conversation.id)), json!({"reply": text, "mode": mode}))
                    .await?;
                tx.commit_even_if_unchanged().await?;
                return Ok(Ended::Recorded);
            }
            queue_reply(&mut tx, &ctx.conversation.id, &channel, text).await?;
            if let Some(memory) = memory {
                crate::assistant::builtin::remember(&mut tx, &ctx.conversation.id, &memory).await?;
            }
            tx.commit().await?;
            Ok(Ended::Recorded)
        }
    }
}

/// Stores an assistant message and queues it for sending.
async fn send_as_assistant(tx: &mut BusinessTx, conversation_id: &str, text: String) -> Result<(), Error> {
    let channel: String = sqlx::query_scalar("SELECT channel FROM conversations WHERE id = $1 AND business_id = $2").bind(conversation_id).bind(tx.business_id().to_owned()).fetch_one(tx.conn()).await?;
    queue_reply(tx, conversation_id, &channel, text).await
}

/// Stores an assistant message on `channel` (the conversation's) and queues it for sending.
async fn queue_reply(tx: &mut BusinessTx, conversation_id: &str, channel: &str, text: String) -> Result<(), Error> {
    let channel = protocol::Channel::parse(channel).ok_or_else(|| Error::internal(StoreError::Corrupt(format!("channel {channel}"))))?;
    let outgoing = Outgoing::Text { body: text.clone() };
    crate::sending::store_outgoing(tx, conversation_id, channel, None, crate::sending::Author::Assistant, text, MessageKind::Text, outgoing).await?;
    Ok(())
}

/// Escalates, and the first time sends the customer one holding reply.
pub async fn escalate_with_holding_reply(state: &Core, business_id: &str, conversation_id: &str, reason: &str) -> Result<(), Error> {
    let mut tx = state.db.begin_business(business_id).await?;
    let channel: Option<String> = sqlx::query_scalar("SELECT channel FROM conversations WHERE id = $1 AND business_id = $2").bind(conversation_id).bind(business_id).fetch_optional(tx.conn()).await?;
    // On a phone call the voice agent says it; a text into a call would only fail.
    if crate::conversations::takeover::escalate(&mut tx, conversation_id, reason).await? && channel.as_deref() != Some("voice") {
        send_as_assistant(&mut tx, conversation_id, HOLDING_REPLY.to_owned()).await?;
    }
    tx.commit_even_if_unchanged().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The model and its tools

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({"type": "function", "function": {"name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required, "additionalProperties": false}}})
}

pub fn tools() -> Vec<Value> {
    vec![
        tool("list_services", "The services the business offers, with duration and price.", json!({}), &[]),
        tool(
            "find_free_slots",
            "Free appointment times for a service on a local date (or from a date for several days).",
            json!({"service_id": {"type": "string"}, "date": {"type": "string", "description": "Local date YYYY-MM-DD"},
                   "days": {"type": "integer", "description": "How many days from `date` (default 1, at most 14)"},
                   "staff_id": {"type": "string"}}),
            &["service_id", "date"],
        ),
        tool(
            "book",
            "Book an appointment. Only after the customer explicitly confirmed this service and this time.",
            json!({"service_id": {"type": "string"}, "start": {"type": "string", "description": "The `start` of a free slot"},
                   "staff_id": {"type": "string"}, "customer_confirmed": {"type": "boolean"}}),
            &["service_id", "start", "customer_confirmed"],
        ),
        tool("my_bookings", "The customer's upcoming appointments.", json!({}), &[]),
        tool(
            "reschedule",
            "Move one of the customer's appointments to a new free time (after they confirmed it).",
            json!({"booking_id": {"type": "string"}, "start": {"type": "string"}, "customer_confirmed": {"type": "boolean"}}),
            &["booking_id", "start", "customer_confirmed"],
        ),
        tool(
            "cancel",
            "Cancel one of the customer's appointments (after they confirmed it).",
            json!({"booking_id": {"type": "string"}, "customer_confirmed": {"type": "boolean"}}),
            &["booking_id", "customer_confirmed"],
        ),
        tool("business_info", "Opening hours, address and facts about the business, and today's date.", json!({}), &[]),
        tool("hand_off", "Ask a person from the team to take over (the customer asked for one, or you cannot help).", json!({"reason": {"type": "string"}}), &["reason"]),
    ]
}

fn system_prompt(ctx: &Context, services: &[protocol::Service], hours: &protocol::WeeklyHours) -> String {
    let now = ctx.now.to_zoned(ctx.tz.clone());
    let services = services.iter().map(|s| format!("{} ({} min)", s.name, s.duration_minutes)).collect::<Vec<_>>().join(", ");
    let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let hours = hours
        .days()
        .iter()
        .zip(days)
        .map(|(d, name)| {
            if d.is_empty() {
                format!("{name}: closed")
            } else {
                format!("{name}: {}", d.iter().map(|i| format!("{}–{}", i.start, i.end)).collect::<Vec<_>>().join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let template = "You are {{persona}} at {{business}}, answering customers on {{channel}}. Today is {{today}} ({{timezone}}). \
Reply in {{language}}, briefly and warmly, like a person at a front desk. Use the tools for services, free times and \
bookings; never invent times, prices or facts. Before booking, rescheduling or cancelling, repeat the service and the time \
and wait for the customer to confirm; only then call the tool with customer_confirmed=true. If the customer asks for a \
person, or you cannot help, call hand_off. The customer is {{customer}}. Services: {{services}}. Opening hours: {{hours}}. \
{{facts}}{{instructions}}";
    template
        .replace("{{persona}}", &ctx.settings.persona)
        .replace("{{business}}", &ctx.business_name)
        .replace("{{channel}}", &ctx.conversation.channel.to_string().replace('_', " "))
        .replace("{{today}}", &now.strftime("%A %-d %B %Y, %H:%M").to_string())
        .replace("{{timezone}}", ctx.tz.iana_name().unwrap_or("local time"))
        .replace("{{language}}", &ctx.settings.language)
        .replace("{{customer}}", ctx.customer.name.as_deref().unwrap_or("not yet known by name"))
        .replace("{{services}}", &services)
        .replace("{{hours}}", &hours)
        .replace("{{facts}}", &if ctx.settings.facts.is_empty() { String::new() } else { format!("Facts: {} ", ctx.settings.facts) })
        .replace("{{instructions}}", &if ctx.settings.instructions.is_empty() { String::new() } else { format!("Owner's instructions: {}", ctx.settings.instructions) })
}

fn history_messages(ctx: &Context) -> Vec<Value> {
    ctx.history
        .iter()
        .filter(|m| m.kind != MessageKind::Event && !m.body.trim().is_empty())
        .map(|m| match m.author_kind {
            AuthorKind::Customer => json!({"role": "user", "content": m.body}),
            AuthorKind::Staff => json!({"role": "assistant", "content": format!("(a colleague wrote) {}", m.body)}),
            _ => json!({"role": "assistant", "content": m.body}),
        })
        .collect()
}

async fn record_usage(state: &Core, business_id: &str, model: &str, prompt: i64, completion: i64) -> Result<(), StoreError> {
    let day = state.db.now().as_jiff().to_zoned(TimeZone::UTC).date().to_string();
    sqlx::query(
        "INSERT INTO llm_usage (business_id, day, model, requests, prompt_tokens, completion_tokens) VALUES ($1, $2, $3, 1, $4, $5) \
         ON CONFLICT (business_id, day, model) DO UPDATE SET requests = llm_usage.requests + 1, \
         prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens, completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens",
    )
    .bind(business_id)
    .bind(day)
    .bind(model)
    .bind(prompt)
    .bind(completion)
    .execute(state.db.writer())
    .await?;
    Ok(())
}

async fn run_llm(state: &Core, llm: &Llm, ctx: &Context) -> Result<Outcome, LlmError> {
    let internal = |e: Error| LlmError::Unavailable(format!("internal: {e}"));
    let (services, schedule) = {
        let mut conn = state.db.reader().acquire().await.map_err(|e| internal(e.into()))?;
        let services = active_services(&mut conn, &ctx.business_id).await.map_err(internal)?;
        let schedule = crate::scheduling::hours::load_business_schedule(&mut conn, &ctx.business_id).await.map_err(internal)?;
        (services, schedule)
    };
    let model = ctx.settings.model.clone().unwrap_or_else(|| llm.default_model.clone());
    let mut messages = vec![json!({"role": "system", "content": system_prompt(ctx, &services, &schedule.opening_hours)})];
    messages.extend(history_messages(ctx));
    let tools = tools();
    let mut malformed = 0;
    for _ in 0..MAX_ROUNDS {
        let completion = llm.complete(&model, &messages, &tools).await?;
        if let Err(e) = record_usage(state, &ctx.business_id, &model, completion.prompt_tokens, completion.completion_tokens).await {
            tracing::warn!(error = %e, "could not record LLM usage");
        }
        if completion.tool_calls.is_empty() {
            return Ok(match completion.content {
                Some(text) => Outcome::Reply(text),
                None => Outcome::Escalate("the assistant had nothing to say".into()),
            });
        }
        messages.push(completion.message.clone());
        for call in &completion.tool_calls {
            let result = match serde_json::from_str::<Value>(&call.arguments) {
                Ok(args) if args.is_object() => {
                    if call.name == "hand_off" {
                        let reason = args["reason"].as_str().unwrap_or("the customer asked for a person").to_owned();
                        return Ok(Outcome::Escalate(reason));
                    }
                    run_tool(state, ctx, &call.name, &args).await
                }
                _ => {
                    malformed += 1;
                    if malformed > MAX_MALFORMED {
                        return Ok(Outcome::Escalate("the assistant kept sending malformed tool calls".into()));
                    }
                    json!({"error": "The arguments were not a JSON object; call the tool again with valid JSON."})
                }
            };
            messages.push(json!({"role": "tool", "tool_call_id": call.id, "content": result.to_string()}));
        }
    }
    Ok(Outcome::Escalate("the assistant went round in circles".into()))
}

pub(crate) async fn active_services(conn: &mut sqlx::AnyConnection, business_id: &str) -> Result<Vec<protocol::Service>, Error> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM services WHERE business_id = $1 AND active = 1 AND deleted_at IS NULL ORDER BY name")
        .bind(business_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(s) = crate::catalog::services::load(conn, business_id, &id).await? {
            out.push(s);
        }
    }
    Ok(out)
}

fn tool_error(e: Error) -> Value {
    match e {
        e if !e.is_internal() => json!({"error": e.code(), "message": e.to_string(), "details": e.details()}),
        other => {
            tracing::error!(error = %other, "assistant tool failed");
            json!({"error": "internal", "message": "That did not work; apologise and offer to have a person help."})
        }
    }
}

fn local_label(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%A %-d %B, %H:%M").to_string()
}

/// Runs a tool for the model. Answers always come from the engine and the store.
pub async fn run_tool(state: &Core, ctx: &Context, name: &str, args: &Value) -> Value {
    let result: Result<Value, Error> = async {
        let mut conn = state.db.reader().acquire().await?;
        match name {
            "list_services" => {
                let services = active_services(&mut conn, &ctx.business_id).await?;
                Ok(json!({"services": services.iter().map(|s| json!({"service_id": s.id, "name": s.name, "duration_minutes": s.duration_minutes,
                    "price": format!("{:.2}", s.price_cents as f64 / 100.0)})).collect::<Vec<_>>()}))
            }
            "find_free_slots" => {
                let service_id = args["service_id"].as_str().unwrap_or("");
                let service = crate::catalog::services::load(&mut conn, &ctx.business_id, service_id)
                    .await?
                    .ok_or_else(|| Error::invalid("No such service; call list_services for the ids."))?;
                let date = crate::scheduling::hours::parse_date(args["date"].as_str().unwrap_or(""), "date")?;
                let days = args["days"].as_i64().unwrap_or(1).clamp(1, 14);
                let from = date.to_zoned(ctx.tz.clone()).map_err(Error::internal)?.timestamp();
                let to = date.checked_add(jiff::Span::new().days(days)).map_err(Error::internal)?.to_zoned(ctx.tz.clone()).map_err(Error::internal)?.timestamp();
                let staff = args["staff_id"].as_str().map(|s| vec![s.to_owned()]);
                let loaded = crate::scheduling::hours::load_for_service(&mut conn, &ctx.business_id, &service, from, to, staff.is_some(), None).await?;
                let slots = loaded.schedule.free_slots(&loaded.spec, staff.as_deref(), from, to, state.db.now().as_jiff(), 12, false);
                Ok(json!({"service": service.name, "free": slots.iter().map(|s| json!({"start": s.start.to_string(), "local": local_label(s.start, &ctx.tz)})).collect::<Vec<_>>()}))
            }
            "book" => {
                if args["customer_confirmed"] != json!(true) {
                    return Ok(json!({"error": "not_confirmed", "message": "Ask the customer to confirm the service and the time first."}));
                }
                drop(conn);
                let start = crate::scheduling::bookings::parse_start(args["start"].as_str().unwrap_or(""), &ctx.tz)?;
                let new = NewBooking {
                    id: None,
                    customer_id: ctx.customer.id.to_string(),
                    service_id: args["service_id"].as_str().unwrap_or("").to_owned(),
                    staff_id: args["staff_id"].as_str().map(str::to_owned),
                    start,
                    notes: String::new(),
                    source: ctx.source,
                    status: BookingStatus::Confirmed,
                    created_by_staff_id: None,
                };
                let mut tx = state.db.begin_business(&ctx.business_id).await?;
                let booking = crate::scheduling::bookings::create(&mut tx, new).await?;
                tx.commit_even_if_unchanged().await?;
                Ok(json!({"booked": true, "booking_id": booking.id, "local": local_label(booking.start.as_jiff(), &ctx.tz)}))
            }
            "my_bookings" => {
                let rows = sqlx::query("SELECT id FROM bookings WHERE customer_id = $1 AND business_id = $2 AND status IN ('pending', 'confirmed') AND start_at >= $3 ORDER BY start_at LIMIT 10")
                    .bind(&ctx.customer.id).bind(&ctx.business_id).bind(ctx.now.as_millisecond()).fetch_all(&mut *conn).await?;
                let mut out = Vec::new();
                for row in &rows {
                    let id: String = row.try_get("id")?;
                    if let Some(b) = crate::scheduling::bookings::load(&mut conn, &ctx.business_id, &id).await? {
                        let service = crate::catalog::services::load(&mut conn, &ctx.business_id, &b.service_id).await?.map(|s| s.name).unwrap_or_default();
                        out.push(json!({"booking_id": b.id, "service": service, "local": local_label(b.start.as_jiff(), &ctx.tz)}));
                    }
                }
                Ok(json!({"bookings": out}))
            }
            "reschedule" | "cancel" => {
                if args["customer_confirmed"] != json!(true) {
                    return Ok(json!({"error": "not_confirmed", "message": "Ask the customer to confirm first."}));
                }
                let id = args["booking_id"].as_str().unwrap_or("");
                let booking = crate::scheduling::bookings::load(&mut conn, &ctx.business_id, id).await?.filter(|b| b.customer_id == ctx.customer.id)
                    .ok_or_else(|| Error::invalid("That is not one of this customer's bookings; call my_bookings."))?;
                drop(conn);
                let change = if name == "cancel" {
                    BookingChange { expected_version: booking.version, status: Some(BookingStatus::Cancelled), cancel_reason: Some("Cancelled by the customer via the assistant".into()), ..Default::default() }
                } else {
                    BookingChange { expected_version: booking.version, start: Some(crate::scheduling::bookings::parse_start(args["start"].as_str().unwrap_or(""), &ctx.tz)?), ..Default::default() }
                };
                let mut tx = state.db.begin_business(&ctx.business_id).await?;
                let updated = crate::scheduling::bookings::update(&mut tx, id, change, None, ctx.source).await?;
                tx.commit_even_if_unchanged().await?;
                Ok(json!({"done": true, "status": updated.status, "local": local_label(updated.start.as_jiff(), &ctx.tz)}))
            }
            "business_info" => {
                let schedule = crate::scheduling::hours::load_business_schedule(&mut conn, &ctx.business_id).await?;
                Ok(json!({"name": ctx.business_name, "timezone": schedule.timezone, "now": local_label(ctx.now, &ctx.tz),
                          "opening_hours": schedule.opening_hours, "facts": ctx.settings.facts}))
            }
            other => Ok(json!({"error": "unknown_tool", "message": format!("There is no tool called {other}.")})),
        }
    }
    .await;
    result.unwrap_or_else(tool_error)
}

/// Runs the due turns (several conversations at once, one turn at a time in each); returns how
/// many ran.
pub async fn run_due(core: &Core) -> Result<usize, Error> {
    let jobs = claim(core).await?;
    let count = jobs.len();
    futures_util::future::join_all(jobs.into_iter().map(|job| run_job(core, job))).await;
    Ok(count)
}
