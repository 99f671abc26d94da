//! `tensorbus record info`: what a recording holds, from its summary section (no message is
//! decompressed): per topic the message count, schema, encoding and rate, the time span, and what
//! the recorder reported as missed (its `tensorbus.recorder` metadata record).

use crate::error::RecordError;
use crate::read::McapFile;
use std::collections::BTreeMap;

/// One topic of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicInfo {
    pub topic: String,
    pub schema: String,
    pub message_encoding: String,
    pub messages: u64,
    /// Messages per second over the recording's span.
    pub rate_hz: f64,
    /// Messages the recorder missed (when it was tensorbus's and said so).
    pub misses: Option<u64>,
}

/// A recording's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub messages: u64,
    /// First and last log time, ns since the Unix epoch.
    pub start_ns: u64,
    pub end_ns: u64,
    pub chunks: u32,
    pub topics: Vec<TopicInfo>,
}

impl Info {
    pub fn duration_s(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 * 1e-9
    }
}

/// Read the summary of `file`.
pub fn info(file: &McapFile) -> Result<Info, RecordError> {
    let s = mcap::Summary::read(file.bytes())?.ok_or_else(|| RecordError::Message {
        file: file.path.display().to_string(),
        topic: String::new(),
        why: "no summary section (a recording that was not finished: its writer died?)".into(),
    })?;
    let stats = s.stats.clone().unwrap_or_default();
    let mut misses: BTreeMap<String, u64> = BTreeMap::new();
    for idx in s.metadata_indexes.iter().filter(|i| i.name == "tensorbus.recorder") {
        let md = mcap::read::metadata(file.bytes(), idx)?;
        for (topic, v) in md.metadata {
            let n = v.split_whitespace().find_map(|kv| kv.strip_prefix("misses=")).and_then(|n| n.parse().ok()).unwrap_or(0);
            *misses.entry(topic).or_default() += n;
        }
    }
    let span = stats.message_end_time.saturating_sub(stats.message_start_time) as f64 * 1e-9;
    let mut topics: Vec<TopicInfo> = s
        .channels
        .values()
        .map(|c| {
            let n = stats.channel_message_counts.get(&c.id).copied().unwrap_or(0);
            TopicInfo {
                topic: c.topic.clone(),
                schema: c.schema.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
                message_encoding: c.message_encoding.clone(),
                messages: n,
                rate_hz: if span > 0.0 && n > 1 { (n - 1) as f64 / span } else { 0.0 },
                misses: misses.get(&c.topic).copied(),
            }
        })
        .collect();
    topics.sort_by(|a, b| a.topic.cmp(&b.topic));
    Ok(Info { messages: stats.message_count, start_ns: stats.message_start_time, end_ns: stats.message_end_time, chunks: stats.chunk_count, topics })
}
