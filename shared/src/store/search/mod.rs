//! User search against the indexes: which index reads answer a search
//! ([`plan`]), and running them: one Query per stream per page, merged in
//! index order.

mod plan;

pub use plan::Plan;
use plan::{Reads, Stream};

use std::collections::VecDeque;

use super::attrs::{s, text, Item};
use super::expr::Expr;
use super::Position;
use super::{Store, CAPACITY};
use crate::error::ApiError;
use crate::keys;
use crate::user::UserSummary;

/// One page of results and where each stream stands afterwards
/// (`None` when the search is finished).
#[derive(Debug)]
pub struct SearchPage {
    pub users: Vec<UserSummary>,
    pub positions: Option<Vec<Position>>,
}

/// Most Queries one stream makes for one page.
const QUERIES_PER_STREAM: usize = 4;

/// Items a narrowed stream reads a Query, most of which its criteria may drop.
const NARROWED_READ: usize = 100;

/// Items read from one stream but not yet placed on a page.
struct Buffer {
    items: VecDeque<Item>,
    /// Whether the stream has nothing beyond `items`.
    exhausted: bool,
    /// Where the stream stands: after the last item placed on the page.
    position: Position,
    /// Where its reads stopped, when they stopped short of its end: every
    /// item before it is in `items` or did not match.
    read_to: Option<Position>,
}

fn position_of(stream: &Stream, item: &Item) -> Position {
    Position::After([
        text(item, keys::PK).to_owned(),
        text(item, keys::SK).to_owned(),
        text(item, stream.index.pk).to_owned(),
        text(item, stream.index.sk).to_owned(),
    ])
}

fn start_key(stream: &Stream, position: &Position) -> Option<Item> {
    let Position::After(values) = position else {
        return None;
    };
    let names = [keys::PK, keys::SK, stream.index.pk, stream.index.sk];
    Some(
        names
            .into_iter()
            .zip(values)
            .map(|(name, value)| (name.to_owned(), s(value.clone())))
            .collect(),
    )
}

impl Store {
    /// A page of at most `limit` users. Each stream reads `limit + 1` matches,
    /// so whether another page exists is known, never guessed.
    pub async fn search(
        &self,
        plan: &Plan,
        positions: Vec<Position>,
        limit: usize,
    ) -> Result<SearchPage, ApiError> {
        match &plan.0 {
            Reads::Nothing => Ok(SearchPage {
                users: Vec::new(),
                positions: None,
            }),
            Reads::Lookup { id, rest } => {
                let item = self.get_profile_item(id).await?;
                let items = item
                    .filter(|item| rest.as_ref().is_none_or(|cond| cond.matches(item)))
                    .into_iter()
                    .collect();
                Ok(SearchPage {
                    users: summaries(items)?,
                    positions: None,
                })
            }
            Reads::Streams(streams) => {
                let reads = streams
                    .iter()
                    .zip(positions)
                    .map(|(stream, position)| self.fill(stream, position, limit + 1));
                let buffers = futures::future::try_join_all(reads).await?;
                let (items, positions) = merge(streams, buffers, limit);
                Ok(SearchPage {
                    users: summaries(items)?,
                    positions,
                })
            }
        }
    }

    /// Reads a stream from `position` until it holds `want` matches, ends,
    /// or has made [`QUERIES_PER_STREAM`] Queries: a page's work is bounded
    /// whatever the table holds. Without criteria beyond its key, a stream
    /// reads exactly what it returns in one Query; a narrowed stream reads
    /// [`NARROWED_READ`] items a Query, and a bound hit part-way through a
    /// run of non-matches ends the page early, its cursor past what was read.
    async fn fill(
        &self,
        stream: &Stream,
        position: Position,
        want: usize,
    ) -> Result<Buffer, ApiError> {
        if position == Position::Done {
            return Ok(Buffer {
                items: VecDeque::new(),
                exhausted: true,
                position,
                read_to: None,
            });
        }
        let mut e = Expr::default();
        let key_condition = e.condition(&stream.key_condition());
        let filter = stream.filter.as_ref().map(|f| e.condition(f));
        let read = if stream.narrows() {
            want.max(NARROWED_READ)
        } else {
            want
        };
        let mut items = VecDeque::new();
        let mut start = start_key(stream, &position);
        for _ in 0..QUERIES_PER_STREAM {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(stream.index.name)
                .key_condition_expression(&key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(!stream.newest_first)
                .limit(i32::try_from(read).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .return_consumed_capacity(CAPACITY)
                .send()
                .await?;
            self.meter.record(output.consumed_capacity());
            let matching = output.items.unwrap_or_default().into_iter();
            items.extend(
                matching.filter(|item| stream.check.as_ref().is_none_or(|c| c.matches(item))),
            );
            start = output.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                break;
            }
        }
        // A page boundary that falls inside the filtered-out tail of a stream
        // leaves `start` set; the stream is exhausted only when DynamoDB says so.
        Ok(Buffer {
            items,
            exhausted: start.is_none(),
            read_to: start.as_ref().map(|key| position_of(stream, key)),
            position,
        })
    }
}

/// Takes the next `limit` items across the streams in index order. An item
/// that an earlier stream also matches is that stream's to return, so it is
/// skipped here: every user appears once.
fn merge(
    streams: &[Stream],
    mut buffers: Vec<Buffer>,
    limit: usize,
) -> (Vec<Item>, Option<Vec<Position>>) {
    let newest_first = streams.first().is_some_and(|s| s.newest_first);
    let mut page = Vec::new();
    while page.len() < limit {
        // A stream whose buffer ran dry but that has more cannot be merged past.
        if buffers.iter().any(|b| b.items.is_empty() && !b.exhausted) {
            break;
        }
        let next = buffers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.items
                    .front()
                    .map(|item| (i, text(item, streams[i].index.sk)))
            })
            .reduce(|best, candidate| {
                let better = if newest_first {
                    candidate.1 > best.1
                } else {
                    candidate.1 < best.1
                };
                if better {
                    candidate
                } else {
                    best
                }
            })
            .map(|(i, _)| i);
        let Some(i) = next else { break };
        let Some(item) = buffers[i].items.pop_front() else {
            break;
        };
        buffers[i].position = position_of(&streams[i], &item);
        let seen_earlier = streams[..i].iter().any(|s| s.condition().matches(&item));
        if !seen_earlier {
            page.push(item);
        }
    }
    let finished = buffers.iter().all(|b| b.items.is_empty() && b.exhausted);
    let positions = (!finished).then(|| {
        buffers
            .into_iter()
            .map(|b| match (b.items.is_empty(), b.exhausted, b.read_to) {
                (true, true, _) => Position::Done,
                // Everything read was placed or did not match: go on from
                // where the reads stopped, not from the last match.
                (true, false, Some(read_to)) => read_to,
                (_, _, _) => b.position,
            })
            .collect()
    });
    (page, positions)
}

/// The users of index items, which hold exactly the projected summary.
fn summaries(items: Vec<Item>) -> Result<Vec<UserSummary>, ApiError> {
    Ok(items
        .into_iter()
        .map(serde_dynamo::from_item)
        .collect::<Result<_, _>>()?)
}
