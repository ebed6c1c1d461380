//! Statements assembled at run time (filters) with numbered placeholders both engines read, and
//! the opaque keyset cursors lists page with.

use protocol::Page;
use sqlx::Any;

/// Typed values for statements assembled at run time (filters), bound in order.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Binds `values` in order onto a query.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [Bind],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            Bind::Text(v) => query.bind(v.as_str()),
            Bind::Int(v) => query.bind(*v),
            Bind::Bool(v) => query.bind(i64::from(*v)),
        };
    }
    query
}

/// Builds `WHERE`/`AND` clauses with numbered placeholders (`$1`, `$2`, …) that both engines read.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Filter {
    /// Adds a clause; each `?` in it becomes the next numbered placeholder, bound to `values`.
    pub fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) -> &mut Self {
        let mut text = String::with_capacity(clause.len() + 4);
        for ch in clause.chars() {
            if ch == '?' {
                text.push_str(&format!("${}", self.binds.len() + 1));
                // Placeholder numbers follow the order values are pushed below.
                self.binds.push(Bind::Int(0));
            } else {
                text.push(ch);
            }
        }
        let start = self.binds.len() - clause.matches('?').count();
        for (slot, value) in (start..).zip(values) {
            self.binds[slot] = value;
        }
        self.clauses.push(text);
        self
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The number the next placeholder would get.
    pub fn next_placeholder(&self) -> usize {
        self.binds.len() + 1
    }
}

/// Opaque keyset cursor over `(ms, id)` (or, for lists ordered by a name, `(text, id)`).
pub mod cursor {
    use base64::Engine as _;

    use super::Key;

    pub fn encode(ms: i64, id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ms}:{id}"))
    }

    pub fn decode(text: &str) -> Option<(i64, String)> {
        match decode_key(text)? {
            (Key::Int(ms), id) => Some((ms, id)),
            (Key::Text(_), _) => None,
        }
    }

    /// A cursor over either kind of key. Text keys travel as a JSON pair, so any text is safe.
    pub fn encode_key(key: &Key, id: &str) -> String {
        match key {
            Key::Int(ms) => encode(*ms, id),
            Key::Text(text) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::json!([text, id]).to_string()),
        }
    }

    pub fn decode_key(text: &str) -> Option<(Key, String)> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        if text.starts_with('[') {
            let (key, id): (String, String) = serde_json::from_str(&text).ok()?;
            return Some((Key::Text(key), id));
        }
        let (ms, id) = text.split_once(':')?;
        Some((Key::Int(ms.parse().ok()?), id.to_owned()))
    }
}

/// The query of a list that takes nothing but the paging parameters (see [`Paging`]).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// What a list is ordered by, before the row's id breaks ties.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// Times (ms) and other numbers.
    Int(i64),
    /// Names, shortcuts, dates written `YYYY-MM-DD`: compared byte by byte.
    Text(String),
}

/// Which way a list runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// The one paging rule every list of the API follows: `?cursor=…&limit=…` in (`limit` 1–200,
/// default 50; `cursor` is a previous page's `next_cursor`), [`Page`] `{items, next_cursor}` out,
/// `next_cursor` is `null` on the last page. Pages are keyset pages over an ordering that ends with
/// the row's id, so rows added or removed meanwhile never shift a page or repeat a row.
///
/// Lists that can grow without bound page in SQL ([`Paging::keyset`], [`Paging::order_by`],
/// [`Paging::page`]); short lists a business keeps (services, staff, channels…) are read whole and
/// paged with [`Paging::page_of`], which sorts them itself so both engines agree on the order.
#[derive(Debug, Clone)]
pub struct Paging {
    limit: usize,
    after: Option<(Key, String)>,
}

impl Paging {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    /// Reads a list's `cursor` and `limit`; a cursor that is not one of ours is `invalid_cursor`.
    pub fn new(cursor: Option<&str>, limit: Option<u32>) -> Result<Self, crate::error::SyncError> {
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(cursor::decode_key(c).ok_or(crate::error::SyncError::InvalidCursor("The cursor is not valid."))?),
            None => None,
        };
        Ok(Paging { limit: limit.unwrap_or(Self::DEFAULT_LIMIT).clamp(1, Self::MAX_LIMIT) as usize, after })
    }

    /// Adds "after the cursor" for `ORDER BY key, id` running `order` (nothing on a first page).
    pub fn keyset(&self, f: &mut Filter, key: &str, id: &str, order: Order) -> Result<(), crate::error::SyncError> {
        let Some((after, after_id)) = &self.after else { return Ok(()) };
        let op = match order {
            Order::Asc => '>',
            Order::Desc => '<',
        };
        let bind = match after {
            Key::Int(v) => Bind::Int(*v),
            Key::Text(_) => return Err(crate::error::SyncError::InvalidCursor("The cursor belongs to another list.")),
        };
        f.and(&format!("({key} {op} ? OR ({key} = ? AND {id} {op} ?))"), [bind.clone(), bind, Bind::Text(after_id.clone())]);
        Ok(())
    }

    /// `ORDER BY key, id` running `order`, fetching one row more than the page to know if another follows.
    pub fn order_by(&self, key: &str, id: &str, order: Order) -> String {
        let dir = match order {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        format!(" ORDER BY {key} {dir}, {id} {dir} LIMIT {}", self.limit + 1)
    }

    /// The page from rows fetched with [`Paging::keyset`] and [`Paging::order_by`].
    pub fn page<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> (Key, String)) -> Page<T> {
        let next_cursor = if items.len() > self.limit {
            items.truncate(self.limit);
            items.last().map(|last| {
                let (k, id) = key(last);
                cursor::encode_key(&k, &id)
            })
        } else {
            None
        };
        Page { items, next_cursor }
    }

    /// A page of a whole list read into memory: sorted by `(key, id)` running `order`, the rows
    /// after the cursor, at most `limit` of them.
    pub fn page_of<T>(&self, items: Vec<T>, order: Order, key: impl Fn(&T) -> (Key, String)) -> Result<Page<T>, crate::error::SyncError> {
        let mut keyed: Vec<((Key, String), T)> = items.into_iter().map(|item| (key(&item), item)).collect();
        keyed.sort_by(|a, b| match order {
            Order::Asc => a.0.cmp(&b.0),
            Order::Desc => b.0.cmp(&a.0),
        });
        if let Some(after) = &self.after {
            if keyed.first().is_some_and(|(k, _)| std::mem::discriminant(&k.0) != std::mem::discriminant(&after.0)) {
                return Err(crate::error::SyncError::InvalidCursor("The cursor belongs to another list."));
            }
            keyed.retain(|(k, _)| match order {
                Order::Asc => k > after,
                Order::Desc => k < after,
            });
        }
        let more = keyed.len() > self.limit;
        keyed.truncate(self.limit);
        let next_cursor = if more { keyed.last().map(|((k, id), _)| cursor::encode_key(k, id)) } else { None };
        Ok(Page { items: keyed.into_iter().map(|(_, item)| item).collect(), next_cursor })
    }
}


/// `$from, $from+1, …` for `n` values: an `IN (…)` list's parameters.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_numbers_placeholders_in_order() {
        let mut f = Filter::default();
        f.and("business_id = ?", [Bind::Text("b".into())]);
        f.and("(at < ? OR (at = ? AND id < ?))", [Bind::Int(5), Bind::Int(5), Bind::Text("x".into())]);
        assert_eq!(f.where_sql(), " WHERE business_id = $1 AND (at < $2 OR (at = $3 AND id < $4))");
        assert_eq!(f.binds.len(), 4);
        assert!(matches!(&f.binds[3], Bind::Text(t) if t == "x"));
        assert_eq!(f.next_placeholder(), 5);
    }

    #[test]
    fn paging_in_memory_walks_every_row_once_either_way() {
        let rows: Vec<(String, String)> = (0..7).map(|i| (format!("name {}", i % 3), format!("id{i}"))).collect();
        let key = |r: &(String, String)| (Key::Text(r.0.clone()), r.1.clone());
        for order in [Order::Asc, Order::Desc] {
            let (mut seen, mut cursor) = (Vec::new(), None::<String>);
            loop {
                let page = Paging::new(cursor.as_deref(), Some(3)).unwrap().page_of(rows.clone(), order, key).unwrap();
                assert!(page.items.len() <= 3);
                seen.extend(page.items.into_iter().map(|r| r.1));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            let mut expected: Vec<(String, String)> = rows.clone();
            expected.sort();
            if order == Order::Desc {
                expected.reverse();
            }
            assert_eq!(seen, expected.into_iter().map(|r| r.1).collect::<Vec<_>>(), "{order:?}");
        }
        // A time cursor on a list of names, and garbage, are refused.
        let time_cursor = cursor::encode(5, "x");
        assert!(Paging::new(Some(&time_cursor), None).unwrap().page_of(rows.clone(), Order::Asc, key).is_err());
        assert!(Paging::new(Some("%%%"), None).is_err());
        assert_eq!(Paging::new(None, Some(0)).unwrap().limit, 1);
        assert_eq!(Paging::new(None, Some(10_000)).unwrap().limit, 200);
    }

    #[test]
    fn keyset_clause_follows_the_order() {
        let paging = Paging::new(Some(&cursor::encode(7, "b")), Some(10)).unwrap();
        let mut f = Filter::default();
        f.and("business_id = ?", [Bind::Text("x".into())]);
        paging.keyset(&mut f, "b.start_at", "b.id", Order::Asc).unwrap();
        assert_eq!(f.where_sql(), " WHERE business_id = $1 AND (b.start_at > $2 OR (b.start_at = $3 AND b.id > $4))");
        assert_eq!(paging.order_by("b.start_at", "b.id", Order::Desc), " ORDER BY b.start_at DESC, b.id DESC LIMIT 11");
        let text = cursor::encode_key(&Key::Text("a:b\"\u{0}".into()), "id:1");
        assert_eq!(cursor::decode_key(&text), Some((Key::Text("a:b\"\u{0}".into()), "id:1".into())));
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = cursor::encode(1_700_000_000_123, "0190-abc");
        assert_eq!(cursor::decode(&c), Some((1_700_000_000_123, "0190-abc".into())));
        assert_eq!(cursor::decode("not a cursor!"), None);
    }
}
