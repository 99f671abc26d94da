# The developer's interface: each target is one command a newcomer can run.
#   make test   every Rust and Python test (creates .venv and installs what it needs)
#   make demo   the main job: the Rust camera driver feeding a PyTorch inference node (launch)
#   make bench  everything side by side (criterion, iceoryx2 crate, Python scripts, peers); docs/benchmarks.md
#   make demo-python  the same pipeline with a Python camera process (examples/demo.py)
#   make bench-peers  the Python side-by-side with HORUS, iceoryx2, PYTHUSA (ARGS=--quick)
#   make bench-wake   cross-process wake latency and idle CPU of event nodes, Rust, Python and peers
#   make bench-scale  how each cost grows with subscribers, topics, holders, slots, contention; plots in docs/
#   make bench-record recording a 1080p30 camera + 1 kHz CmdVel (each compression) vs dd, replay vs the mcap reader (ARGS=--quick)
#   make lint   rustfmt, clippy (-D warnings, workspace lints), ruff, stubtest and the module-cycle check; .ci/run runs it before make test

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.deps-stamp
export CARGO_TERM_COLOR ?= never

.PHONY: test test-rust test-python loom venv develop demo demo-python bench bench-rust bench-wake bench-scale bench-record bench-bridge bench-peers clean lint

# Gates: formatting (rustfmt.toml) and clippy at -D warnings on top of [workspace.lints]
# (undocumented unsafe blocks, missing safety docs and unsafe ops in unsafe fns are errors);
# ruff for the Python ([tool.ruff] in pyproject.toml); mypy.stubtest of the built extension
# against its hand-written stubs (py/python/tensorbus/_native/*.pyi); no module cycles across the
# files of any crate (tools/modgraph.py).
# The exception mapping of py/src/errors.rs must name every variant of the core error enums:
# checked with rustc's non_exhaustive_omitted_patterns lint (nightly-only, hence RUSTC_BOOTSTRAP).
lint: develop
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	RUSTC_BOOTSTRAP=1 cargo rustc -p tensorbus-py --lib --profile check -q -- --cfg tensorbus_exhaustive
	$(VENV)/bin/ruff check .
	$(PY) -m mypy.stubtest tensorbus._native
	$(PY) tools/modgraph.py -q pool/src py/src src tensor/src gpu/src ros2/src record/src bridge/src cli/src testkit/src

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-cache-dir "maturin>=1.5,<2" pytest pytest-timeout "ruff==0.17.6" "mypy==2.4.1" "numpy>=2.1" torch jax ml_dtypes nbclient nbformat ipykernel rosbags mcap mcap-ros2-support "foxglove-sdk==0.30.3" websockets ipywidgets protobuf "eclipse-zenoh==1.10.2" matplotlib
	touch $(STAMP)

venv: $(STAMP)

# Build the extension in release mode and install it into .venv.
develop: $(STAMP)
	. $(VENV)/bin/activate && maturin develop --release -q

test: test-rust loom soak-short test-python

test-rust:
	cargo test --workspace

# Loom models of the slot-word races (compiles only the lock-free core under --cfg loom).
loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -q -p tensorbus-pool --lib --release loom

test-python: develop
	$(PY) -m pytest -q -p no:cacheprovider tests/python

# examples/camera_driver.rs and examples/ml/inference_node.py under `tensorbus launch`
# (examples/ml/pipeline.toml): frames/s, latency p50/p99 and the zero-copy proof.
demo: develop
	cargo build --release --example camera_driver
	DEMO_SECONDS=5 PYTHON=$(abspath $(PY)) $(VENV)/bin/tensorbus launch examples/ml/pipeline.toml

demo-python: develop
	$(PY) examples/demo.py --seconds 5

# Everything measured side by side: criterion (ours, and vs the iceoryx2 crate), the Python
# scripts, and the peer harness (which rewrites its section of docs/benchmarks.md and the plots).
bench: develop bench-rust bench-wake bench-scale bench-record bench-bridge bench-compare bench-peers

bench-rust: develop
	cargo bench --bench pool
	cargo bench --bench topic
	$(PY) benches/python/bench_payload.py --markdown
	$(PY) benches/python/bench_topic.py --markdown
	$(PY) benches/python/bench_cuda.py --markdown

# Wake latency (issue 16), each table with its futex reference measured in the same run: Rust
# (benches/wake.rs: reference, recv_timeout, event node, busy pipeline, idle CPU), Python (the
# script re-runs the Rust reference before and after), and iceoryx2 / HORUS in the peers' venv.
bench-wake: develop
	cargo bench --bench wake
	$(PY) benches/python/bench_wake.py --markdown
	bash benches/peers/setup.sh && benches/peers/.venv/bin/python benches/peers/wake_peers.py --markdown

# Measured growth (issue 15, ~1 min): send/receive vs subscribers (one process, cross-process),
# publish/join/leave vs topics, join/leave vs live holders, reap vs slots and dead holders, claim
# under contention, and the namespace's segment bytes at every point (benches/scale.rs, a plain
# harness). Writes docs/scale.json and one plot per row, docs/scale-*.png (benches/scale/plot.py).
bench-scale: venv
	cargo bench --bench scale -- --json docs/scale.json
	$(PY) benches/scale/plot.py docs/scale.json

# Recording (issue 20): `tensorbus record` of a 30 Hz 1080p camera and a 1 kHz CmdVel topic for 60 s
# per compression (zstd, lz4, none; pattern and noise frames), against dd onto the same disk; replay
# throughput against the `mcap` reader. Needs ~15 GB free (it shortens the run otherwise and says so).
bench-record: develop
	cargo build --release -q -p tensorbus-cli
	$(PY) benches/python/bench_record.py --markdown $(ARGS)

# The Zenoh bridge (issues 18 and 19): `tensorbus bridge` (and its ROS 2 mode) between two
# namespaces of this machine vs plain eclipse-zenoh pub/sub of the same bytes over loopback TCP:
# 480p/1080p throughput, small-message and 1080p frame latency, lz4/zstd compression (~4 min;
# ARGS=--quick for ~1 min).
bench-bridge: develop
	$(PY) benches/python/bench_bridge.py --markdown $(ARGS)

# Peers in their own venv (benches/peers/.venv); writes docs/benchmarks.md's peers section + plots.
bench-peers:
	bash benches/peers/setup.sh && benches/peers/.venv/bin/python benches/peers/run.py $(ARGS)
	benches/peers/.venv/bin/python benches/peers/interleaved.py $(if $(findstring --no-docs,$(ARGS)),,--docs) $(if $(findstring --quick,$(ARGS)),--rounds 10,)

clean:
	rm -rf target $(VENV)

# Hardening (docs/reliability.md). `make fuzz`: every libFuzzer target for FUZZ_SECONDS each
# (cargo-fuzz on the stable toolchain via RUSTC_BOOTSTRAP; `cargo install cargo-fuzz` once).
# `make soak`: the minutes-long soak (SOAK_SECONDS) and 10,000 processes that come and go (issue 15);
# the 10 s soak is `make soak-short` (the 1,000-process churn runs in `make test-rust`).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := segment_open descriptor ring_entry msgpack_dict dlpack_import mcap_read ros2_cdr bridge_wire
SOAK_SECONDS ?= 180

.PHONY: fuzz fuzz-replay soak soak-short tsan
fuzz:
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t regressions/$$t && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t regressions/$$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 || exit 1; \
	done; rm -rf /dev/shm/tb-fuzz-*

# The fuzz targets as a plain seeded test loop over the saved inputs (no nightly features).
fuzz-replay:
	cargo test --manifest-path fuzz/Cargo.toml --release

soak:
	TB_SOAK_SECS=$(SOAK_SECONDS) cargo test -p tensorbus-pool --test hardening_soak -- --ignored --exact soak --nocapture
	cargo test --release -p tensorbus-pool --test scale -- --ignored --exact come_and_go_long --nocapture

soak-short:
	cargo test -p tensorbus-pool --test hardening_soak -- --ignored --exact soak_short --nocapture

# The pool's threaded tests under ThreadSanitizer (nightly toolchain with rust-src; std rebuilt
# with TSan into target/tsan). Cross-process races are outside TSan's view: see make loom.
tsan:
	RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan cargo +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu -p tensorbus-pool --lib --test stress --test rings --test leases --test smoke

# Rust side by side with the iceoryx2 crate (criterion). A crate of its own (benches/compare,
# outside the workspace), so make test never compiles iceoryx2. See benches/README.md.
.PHONY: bench-compare
bench-compare:
	cd benches/compare && cargo bench
