//! Pages of a list: what a request asks for, and what comes back.

use serde::{Deserialize, Serialize};

/// The longest search text accepted (search, list filters).
pub const MAX_QUERY_LEN: usize = 100;

/// Which page of a list to show: 1-based, at most [`PageRequest::MAX_PER_PAGE`] items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: Self::DEFAULT_PER_PAGE }
    }
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 50;
    pub const MAX_PER_PAGE: u32 = 100;

    /// The page asked for, within bounds: page 1 and the default size when not given.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Self {
        Self {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(Self::DEFAULT_PER_PAGE).clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }

    /// The page of `items` in a list of `total`.
    pub fn of<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        Page { items, page: self.page, per_page: self.per_page, total: total.max(0) as u64 }
    }
}

/// A page of results and where it sits in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

/// A stretch of a long, growing list read newest first (the activity log): no page numbers,
/// which would make page 10,000 a scan past the 500,000 entries before it, but where the
/// next stretch starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed<T> {
    pub items: Vec<T>,
    /// The entry this stretch is older than; `None`: it starts at the newest.
    pub before: Option<i64>,
    /// Where the next, older stretch starts (`before=`); `None`: this is the oldest.
    pub next_before: Option<i64>,
}

impl<T> Page<T> {
    pub fn pages(&self) -> u32 {
        (self.total.div_ceil(self.per_page.max(1) as u64)).max(1) as u32
    }
}
