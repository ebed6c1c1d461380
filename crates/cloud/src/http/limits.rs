//! Limits on attempts that guess or cost (sign-in, codes, password resets, sign-ups), on the
//! core's [`Clock`] so tests move time instead of waiting for it, and keyed by the client's
//! address as [`ClientAddr`] finds it behind trusted proxies.
//!
//! Sign-in attempts — passwords, and the second-factor codes that follow them, counted against
//! the same account — are limited three ways, so that nobody can keep a known email locked out:
//! - per client address (one address trying many accounts);
//! - per account *and* address (one address guessing one account): an attacker who hammers an
//!   email only locks out themselves;
//! - per account over all addresses, a soft limit against guessing from many addresses: when it
//!   is spent, addresses that have signed in to that account before (on this instance, in the
//!   last 30 days; all the way, so a stolen password alone does not count) still get through, so
//!   the owner at their usual desk is never locked out; new addresses wait (`Retry-After`).
//!
//! The counters live in each instance's memory (see README, "Rate limits"): N instances give an
//! attacker at most N times each limit, and a flood of attempts costs the database nothing.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;
use switchboard_core::clock::Clock;
use switchboard_core::Config;

use crate::error::ApiError;
use crate::http::AppState;

/// Entries a table keeps before it forgets the ones that no longer hold anything back.
const PRUNE_AT: usize = 50_000;
/// How long an address that signed in to an account is remembered for the soft limit.
const KNOWN_FOR_MS: i64 = 30 * 24 * 3600 * 1000;

/// `n` events per `period` per key, all `n` at once if saved up (the generic cell rate
/// algorithm: one "theoretical arrival time" per key, in microseconds of the clock).
pub struct Keyed<K> {
    emission_us: i64,
    tolerance_us: i64,
    cells: Mutex<HashMap<K, i64>>,
}

impl<K: Hash + Eq> Keyed<K> {
    pub fn new(n: u32, period: Duration) -> Keyed<K> {
        let period_us = i64::try_from(period.as_micros()).unwrap_or(i64::MAX);
        let emission_us = (period_us / i64::from(n.max(1))).max(1);
        Keyed { emission_us, tolerance_us: period_us - emission_us, cells: Mutex::new(HashMap::new()) }
    }

    /// One event more for `key` at `now_us`; refused with how long until one is allowed.
    pub fn check(&self, key: K, now_us: i64) -> Result<(), Duration> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        if cells.len() >= PRUNE_AT {
            // A key whose time has come holds nothing back: forgetting it changes nothing.
            cells.retain(|_, tat| *tat > now_us);
        }
        let tat = cells.get(&key).copied().unwrap_or(now_us).max(now_us);
        let allowed_at = tat - self.tolerance_us;
        if allowed_at > now_us {
            return Err(Duration::from_micros(u64::try_from(allowed_at - now_us).unwrap_or(0)));
        }
        cells.insert(key, tat + self.emission_us);
        Ok(())
    }
}

/// Every limit of guesses and sign-ups, and the addresses that signed in to each account.
pub struct Limits {
    clock: Arc<dyn Clock>,
    per_address: Keyed<IpAddr>,
    per_account_address: Keyed<(String, IpAddr)>,
    per_account: Keyed<String>,
    signups: Keyed<IpAddr>,
    known: Mutex<HashMap<(String, IpAddr), i64>>,
}

impl Limits {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Limits {
        let minute = Duration::from_secs(60);
        Limits {
            clock,
            per_address: Keyed::new(config.login_attempts_per_address_per_minute, minute),
            per_account_address: Keyed::new(config.login_attempts_per_account_per_minute, minute),
            per_account: Keyed::new(config.login_attempts_per_account_all_addresses_per_minute, minute),
            signups: Keyed::new(config.signups_per_address_per_hour, Duration::from_secs(3600)),
            known: Mutex::new(HashMap::new()),
        }
    }

    fn now_us(&self) -> i64 {
        self.clock.now_ms().saturating_mul(1000)
    }

    /// One guess from `client` (at `account`, when the request names one): a sign-in, a code, a
    /// reset request.
    pub fn guess(&self, client: IpAddr, account: Option<&str>) -> Result<(), ApiError> {
        self.guess_from(client)?;
        match account {
            Some(account) => self.guess_at(client, account),
            None => Ok(()),
        }
    }

    /// The per-address part of [`Limits::guess`], for a route that must look up whose account a
    /// guess is at: checked first, so a flood costs the database nothing.
    pub fn guess_from(&self, client: IpAddr) -> Result<(), ApiError> {
        self.per_address.check(client, self.now_us()).map_err(refused)
    }

    /// The per-account part of [`Limits::guess`].
    pub fn guess_at(&self, client: IpAddr, account: &str) -> Result<(), ApiError> {
        let now = self.now_us();
        self.per_account_address.check((account.to_owned(), client), now).map_err(refused)?;
        if !self.is_known(account, client) {
            self.per_account.check(account.to_owned(), now).map_err(refused)?;
        }
        Ok(())
    }

    /// `client` signed in to `account` — the password and, when it is on, the second factor: the
    /// soft limit spares it from now on.
    pub fn signed_in(&self, client: IpAddr, account: &str) {
        let now = self.clock.now_ms();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= PRUNE_AT {
            known.retain(|_, at| now - *at < KNOWN_FOR_MS);
        }
        known.insert((account.to_owned(), client), now);
    }

    fn is_known(&self, account: &str, client: IpAddr) -> bool {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(&(account.to_owned(), client)).is_some_and(|at| self.clock.now_ms() - at < KNOWN_FOR_MS)
    }

    /// One sign-up from `client` (each costs a password hash and a business).
    pub fn signup(&self, client: IpAddr) -> Result<(), ApiError> {
        self.signups.check(client, self.now_us()).map_err(refused)
    }
}

fn refused(wait: Duration) -> ApiError {
    // Whole seconds, rounded up: a client that waits what it is told is let in.
    ApiError::RateLimited { retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64 }
}

/// The proxies whose `X-Forwarded-For` is believed (`SWITCHBOARD_TRUSTED_PROXIES`: addresses or
/// CIDR ranges, separated by commas or spaces).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of `SWITCHBOARD_TRUSTED_PROXIES` that is neither an address nor a range.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR range")]
pub struct NotAProxy(String);

impl TrustedProxies {
    pub fn parse(text: &str) -> Result<TrustedProxies, NotAProxy> {
        let mut nets = Vec::new();
        for item in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::new(ip, if ip.is_ipv4() { 32 } else { 128 }).expect("a full-length prefix"),
                    Err(_) => return Err(NotAProxy(item.to_owned())),
                },
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
    /// address in `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it
    /// saw, so what is left of the last untrusted hop may be made up by the client).
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { return client };
            client = canonical(ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4 address mapped into IPv6 is the IPv4 address (dual-stack listeners see those).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The address of the client behind the request, as [`TrustedProxies::client`] finds it.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| ApiError::Internal("no peer address on the request".into()))?;
        Ok(ClientAddr(state.trusted_proxies.client(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::clock::TestClock;

    #[test]
    fn a_key_gets_its_burst_then_one_per_interval() {
        let limiter = Keyed::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            limiter.check("a", 0).unwrap();
        }
        let wait = limiter.check("a", 0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        limiter.check("b", 0).expect("another key has its own budget");
        assert!(limiter.check("a", 19_999_999).is_err());
        limiter.check("a", 20_000_000).expect("one more after an interval");
        assert!(limiter.check("a", 20_000_000).is_err());
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7").unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.2.3".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(proxies.client(ip("10.0.0.1"), &headers), ip("203.0.113.9"), "a client's own made-up hop is skipped");
        assert_eq!(proxies.client(ip("192.168.1.7"), &headers), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("198.51.100.1"), &headers), ip("198.51.100.1"), "an untrusted peer's header is ignored");
        headers.insert("x-forwarded-for", "garbage, 10.9.9.9".parse().unwrap());
        assert_eq!(proxies.client(ip("10.0.0.1"), &headers), ip("10.9.9.9"), "an unreadable hop stops the walk");
        headers.insert("x-forwarded-for", "[2001:db8::5]:443".parse().unwrap());
        assert_eq!(proxies.client(ip("::ffff:10.0.0.1"), &headers), ip("2001:db8::5"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &headers), ip("10.0.0.1"), "nothing trusted by default");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }

    #[test]
    fn a_known_address_passes_the_spent_soft_limit_and_others_wait() {
        let clock = Arc::new(TestClock::at(protocol::Timestamp::from_millis(1_000_000).unwrap()));
        let config = Config {
            login_attempts_per_account_per_minute: 2,
            login_attempts_per_account_all_addresses_per_minute: 3,
            login_attempts_per_address_per_minute: 100,
            ..Config::default()
        };
        let limits = Limits::new(&config, clock.clone());
        let owner: IpAddr = "198.51.100.1".parse().unwrap();
        limits.guess(owner, Some("a@x")).unwrap();
        limits.signed_in(owner, "a@x");
        // The owner's first attempt counted towards the soft limit: two more addresses pass.
        for i in 0..2u8 {
            limits.guess(IpAddr::from([203, 0, 113, i]), Some("a@x")).unwrap();
        }
        assert!(limits.guess(IpAddr::from([203, 0, 113, 9]), Some("a@x")).is_err(), "a new address waits");
        limits.guess(owner, Some("a@x")).expect("the owner's address is known");
        clock.advance(Duration::from_secs(60));
        limits.guess(IpAddr::from([203, 0, 113, 9]), Some("a@x")).expect("a minute later");
    }
}
