//! `tensorbus topic list | info | hz | echo`.

use super::args::Args;
use super::ctx::Ctx;
use super::error::{CliError, CliResult};
use super::table::{secs, Table};
use crate::raw::{kind_name, RawMessage, RawSubscriber};
use crate::{msgs, Pod};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tensorbus_pool::ring::{RingSeg, TopicStats};
use tensorbus_pool::{Namespace, Policy, Topic, TopicOptions, TopicType};

fn policy(p: Policy) -> &'static str {
    match p {
        Policy::Latest => "latest",
        Policy::Reliable => "reliable",
    }
}

fn stats_of(ns: &Namespace) -> Vec<TopicStats> {
    ns.topic_names().iter().filter_map(|n| RingSeg::open_existing(ns.dir(), n).ok()).map(|r| r.stats()).collect()
}

fn topic_json(t: &TopicStats, rate: Option<f64>, bridged: &str) -> serde_json::Value {
    json!({
        "name": t.name, "type": t.type_name, "depth": t.depth, "policy": policy(t.policy),
        "publishers": t.publishers, "subscribers": t.subscribers, "openers": t.openers,
        "sent": t.sent, "misses": t.misses, "rate_hz": rate,
        "bridged": if bridged.is_empty() { serde_json::Value::Null } else { bridged.into() },
    })
}

/// Rates from two `sent` samples `dt` apart.
fn rates(ns: &Namespace, before: &[TopicStats], dt: Duration) -> Vec<(TopicStats, f64)> {
    std::thread::sleep(dt);
    stats_of(ns)
        .into_iter()
        .map(|t| {
            let prev = before.iter().find(|b| b.name == t.name).map_or(t.sent, |b| b.sent);
            let r = t.sent.saturating_sub(prev) as f64 / dt.as_secs_f64();
            (t, r)
        })
        .collect()
}

pub fn list(ctx: &Ctx, mut a: Args) -> CliResult {
    let as_json = a.flag("--json");
    let all = a.flag("--all");
    a.finish()?;
    let ns = ctx.open()?;
    let mut topics = rates(&ns, &stats_of(&ns), Duration::from_millis(250));
    // `_tb.*` topics are tensorbus's own (e.g. the schedulers' live statistics).
    topics.retain(|(t, _)| all || !t.name.starts_with("_tb."));
    let bridges = super::bridges::running_bridges(&ns);
    if as_json {
        let v: Vec<_> = topics.iter().map(|(t, r)| topic_json(t, Some(*r), &super::bridges::bridged(&bridges, &t.name))).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    if topics.is_empty() {
        println!("no topics in namespace {:?}", ctx.name());
        return Ok(0);
    }
    let mut head = vec!["NAME", "TYPE", ">DEPTH", "POLICY", ">PUBS", ">SUBS", ">SENT", ">RATE"];
    if !bridges.is_empty() {
        head.push("BRIDGED");
    }
    let mut t = Table::new(&head);
    for (s, r) in &topics {
        let mut row = vec![
            s.name.clone(),
            if s.type_name.is_empty() { "-".into() } else { s.type_name.clone() },
            s.depth.to_string(),
            policy(s.policy).into(),
            s.publishers.to_string(),
            s.subscribers.to_string(),
            s.sent.to_string(),
            format!("{r:.1} Hz"),
        ];
        if !bridges.is_empty() {
            let b = super::bridges::bridged(&bridges, &s.name);
            row.push(if b.is_empty() { "-".into() } else { b });
        }
        t.row(row);
    }
    print!("{}", t.render());
    Ok(0)
}

fn existing(ctx: &Ctx, ns: &Namespace, name: &str) -> Result<(), CliError> {
    if ns.topic_names().iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(CliError::new(format!("topic {name:?} not found in namespace {:?}", ctx.name())))
    }
}

pub fn info(ctx: &Ctx, mut a: Args) -> CliResult {
    let as_json = a.flag("--json");
    let name = a.required("topic name")?;
    a.finish()?;
    let ns = ctx.open()?;
    existing(ctx, &ns, &name)?;
    let before = stats_of(&ns);
    let (t, rate) =
        rates(&ns, &before, Duration::from_millis(250)).into_iter().find(|(t, _)| t.name == name).ok_or_else(|| CliError::new(format!("topic {name:?} disappeared")))?;
    let ring = RingSeg::open_existing(ns.dir(), &name)?;
    let h = ring.header();
    let bridged = super::bridges::bridged(&super::bridges::running_bridges(&ns), &name);
    if as_json {
        let mut v = topic_json(&t, Some(rate), &bridged);
        v["type_hash"] = json!(format!("{:#x}", h.type_hash));
        v["msg_size"] = json!(h.msg_size);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("topic:       {}", t.name);
    println!("namespace:   {}", ctx.name());
    println!("type:        {}", if t.type_name.is_empty() { "-" } else { &t.type_name });
    if h.msg_size > 0 {
        println!("layout:      {} B, hash {:#x}", h.msg_size, h.type_hash);
    }
    println!("depth:       {}", t.depth);
    println!("policy:      {}", policy(t.policy));
    println!("publishers:  {}", t.publishers);
    println!("subscribers: {}", t.subscribers);
    println!("openers:     {}", t.openers);
    println!("sent:        {}", t.sent);
    println!("misses:      {}", t.misses);
    println!("rate:        {rate:.1} Hz");
    if !bridged.is_empty() {
        println!("bridged:     {bridged}");
    }
    Ok(0)
}

/// Subscribe to an existing topic, accepting any type.
fn subscribe(ctx: &Ctx, ns: &Namespace, name: &str) -> Result<(Topic, RawSubscriber), CliError> {
    existing(ctx, ns, name)?;
    let topic = ns.topic(name, &TopicOptions::default())?;
    let sub = RawSubscriber::new(&topic, TopicType::default())?;
    Ok((topic, sub))
}

/// Receive until `stop` says so, Ctrl-C, or `timeout` without a message (an error).
fn pump(sub: &mut RawSubscriber, timeout: Option<f64>, mut on_msg: impl FnMut(RawMessage) -> Result<bool, CliError>) -> CliResult {
    crate::stop::stop_on_signals()?;
    let mut last = Instant::now();
    while !crate::stop::signalled() {
        match sub.recv_timeout(Duration::from_millis(100))? {
            Some(m) => {
                last = Instant::now();
                if !on_msg(m)? {
                    return Ok(0);
                }
            }
            None => {
                if let Some(t) = timeout {
                    if last.elapsed().as_secs_f64() > t {
                        return Err(CliError::new(format!("no message on {:?} for {t} s", sub.topic().name())));
                    }
                }
            }
        }
    }
    Ok(0)
}

/// Period statistics over a window of arrival times.
pub(crate) struct HzStats {
    pub rate: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
    pub n: usize,
}

pub(crate) fn hz_stats(times: &[f64]) -> Option<HzStats> {
    if times.len() < 2 {
        return None;
    }
    let d: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64;
    Some(HzStats {
        rate: if mean > 0.0 { 1.0 / mean } else { f64::INFINITY },
        min: d.iter().cloned().fold(f64::INFINITY, f64::min),
        max: d.iter().cloned().fold(0.0, f64::max),
        std: var.sqrt(),
        n: d.len(),
    })
}

fn print_hz(s: &HzStats) {
    println!("rate: {:.2} Hz  period min: {}  max: {}  std: {}  (n={})", s.rate, secs(s.min), secs(s.max), secs(s.std), s.n);
}

pub fn hz(ctx: &Ctx, mut a: Args) -> CliResult {
    let count: Option<u64> = a.parsed("--count")?;
    let window: f64 = a.parsed("--window")?.unwrap_or(10.0);
    let timeout: Option<f64> = a.parsed("--timeout")?;
    let name = a.required("topic name")?;
    a.finish()?;
    let ns = ctx.open()?;
    let (_topic, mut sub) = subscribe(ctx, &ns, &name)?;
    let t0 = Instant::now();
    let mut times: std::collections::VecDeque<f64> = Default::default();
    let mut received = 0u64;
    let mut last_print = Instant::now();
    let code = pump(&mut sub, timeout, |_m| {
        let now = t0.elapsed().as_secs_f64();
        times.push_back(now);
        while times.front().is_some_and(|&t| now - t > window) && times.len() > 2 {
            times.pop_front();
        }
        received += 1;
        if count.is_some_and(|c| received >= c) {
            return Ok(false);
        }
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            if let Some(s) = hz_stats(times.make_contiguous()) {
                print_hz(&s);
            }
        }
        Ok(true)
    })?;
    match hz_stats(times.make_contiguous()) {
        Some(s) => print_hz(&s),
        None => println!("rate: no messages received on {name:?}"),
    }
    Ok(code)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// Decode a standard message by its type name (and layout hash), or None.
fn decode_pod(type_name: &str, hash: u64, b: &[u8]) -> Option<String> {
    macro_rules! try_types {
        ($($t:ident),*) => {
            match type_name {
                $(stringify!($t) if hash == msgs::$t::LAYOUT_HASH => msgs::$t::from_bytes(b).map(|m| format!("{m:?}")),)*
                _ => None,
            }
        };
    }
    try_types!(CmdVel, Twist, Pose2D, Imu, Detection, Heartbeat)
}

/// One message as text.
fn describe(ns: &Namespace, type_name: &str, hash: u64, m: RawMessage) -> String {
    let d = *m.descriptor();
    if m.is_msgpack() {
        let bytes = m.bytes();
        return match rmpv::decode::read_value(&mut &bytes[..]) {
            Ok(v) => v.to_string(),
            Err(e) => format!("<undecodable MessagePack ({e}): {}>", hex(bytes)),
        };
    }
    if m.is_pod() {
        let b = m.bytes();
        return decode_pod(type_name, hash, b).unwrap_or_else(|| format!("{} ({} B): {}", if type_name.is_empty() { "bytes" } else { type_name }, b.len(), hex(b)));
    }
    if m.is_payload() {
        let kind = kind_name(&d);
        return match m.into_payload(ns) {
            Ok(p) => {
                let extra = match p.kind() {
                    tensorbus_tensor::PayloadKind::Image => tensorbus_tensor::Encoding::from_code(p.aux()).map(|e| format!(" {}", e.name())).unwrap_or_default(),
                    _ => String::new(),
                };
                let age = if p.timestamp_ns() > 0 { format!(" age {}", secs(now_ns().saturating_sub(p.timestamp_ns()) as f64 * 1e-9)) } else { String::new() };
                let fid = if p.frame_id().is_empty() { String::new() } else { format!(" frame_id {:?}", p.frame_id()) };
                format!(
                    "{kind}{extra} shape {:?} {} ({}) timestamp_ns {}{age} seq {}{fid}",
                    p.shape(),
                    p.dtype(),
                    super::table::bytes(p.data().len() as u64),
                    p.timestamp_ns(),
                    p.sequence()
                )
            }
            Err(e) => format!("{kind} seq {} <not readable: {e}>", d.sequence),
        };
    }
    format!("<{}>", kind_name(&d))
}

pub fn echo(ctx: &Ctx, mut a: Args) -> CliResult {
    let count: Option<u64> = a.parsed("--count")?;
    let timeout: Option<f64> = a.parsed("--timeout")?;
    let name = a.required("topic name")?;
    a.finish()?;
    let ns = ctx.open()?;
    let (topic, mut sub) = subscribe(ctx, &ns, &name)?;
    let type_name = topic.type_name();
    let hash = topic.ring().header().type_hash;
    let mut n = 0u64;
    let out = std::io::stdout();
    pump(&mut sub, timeout, |m| {
        use std::io::Write;
        let line = describe(&ns, &type_name, hash, m);
        let mut o = out.lock();
        if writeln!(o, "{line}").and_then(|_| o.flush()).is_err() {
            return Ok(false); // stdout closed (e.g. piped into head)
        }
        n += 1;
        Ok(count.is_none_or(|c| n < c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hz_stats_of_a_steady_rate() {
        let t: Vec<f64> = (0..11).map(|i| i as f64 * 0.1).collect();
        let s = hz_stats(&t).unwrap();
        assert!((s.rate - 10.0).abs() < 1e-9);
        assert!(s.std < 1e-9);
        assert_eq!(s.n, 10);
        assert!(hz_stats(&t[..1]).is_none());
    }

    #[test]
    fn standard_messages_decode_by_name_and_hash() {
        let m = msgs::CmdVel { timestamp_ns: 5, linear: 1.5, angular: -0.5 };
        let s = decode_pod("CmdVel", msgs::CmdVel::LAYOUT_HASH, m.as_bytes()).unwrap();
        assert!(s.contains("linear: 1.5"), "{s}");
        assert!(decode_pod("CmdVel", 1, m.as_bytes()).is_none());
        assert!(decode_pod("Mine", 0, m.as_bytes()).is_none());
    }
}
