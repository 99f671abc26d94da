//! A camera driver: publishes a moving 640x480 rgb8 test pattern, zero copies end to end.
//!
//! Each frame is a loaned pool slot (`ImageMut`), filled in place, frozen and sent; only its
//! 64-byte descriptor travels through the topic ring.
//!
//! ```text
//! cargo run --release --example camera_driver -- --rate 30 --seconds 10 --topic camera.rgb
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tensorbus::tensor::{Encoding, ImageMut};
use tensorbus::{node_fn, stop_on_signals, Image, Namespace, NodeConfig, Scheduler, Topic};

const W: usize = 640;
const H: usize = 480;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = arg(&args, "--rate", 30.0);
    let seconds: f64 = arg(&args, "--seconds", 0.0);
    let topic: String = arg(&args, "--topic", "camera.rgb".to_string());

    let ns = Namespace::open(None)?;
    let camera = Topic::<Image>::open(&ns, &topic)?.publisher();
    let mut frame_no = 0u64;
    let ns2 = ns.clone();
    let driver = node_fn("camera", move |_ctx| {
        let mut img = ImageMut::new_timeout(&ns2, H, W, Encoding::Rgb8, Duration::from_millis(100))?;
        let shift = (frame_no * 4) as usize;
        for (y, row) in img.data_mut().chunks_exact_mut(W * 3).enumerate() {
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                px[0] = ((x + shift) % 256) as u8;
                px[1] = ((y + shift / 2) % 256) as u8;
                px[2] = (((x / 32 + y / 32) % 2) * 255) as u8;
            }
        }
        img.set_timestamp_ns(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64);
        img.set_sequence(frame_no + 1);
        camera.send(&img.freeze())?;
        frame_no += 1;
        Ok(())
    });

    tensorbus::logging::init_default(); // scheduler messages (misses, errors) to stderr
    stop_on_signals()?;
    let sched = Scheduler::new(rate);
    sched.add(driver, NodeConfig::rate(rate))?;
    eprintln!("camera_driver: {W}x{H} rgb8 on {topic:?} at {rate} Hz{}", if seconds > 0.0 { format!(" for {seconds} s") } else { " (Ctrl-C to stop)".into() });
    sched.run((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))?;
    let st = sched.node_stats("camera").expect("added above");
    eprintln!(
        "camera_driver: {} frames, {:.1} Hz, tick avg {:?} p99 {:?}, {} deadline misses, {} errors{}",
        st.total_ticks,
        st.actual_rate_hz,
        st.avg_tick,
        st.p99_tick,
        st.deadline_misses,
        st.error_count,
        st.last_error.map(|e| format!(" (last: {e})")).unwrap_or_default()
    );
    Ok(())
}
