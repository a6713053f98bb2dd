//! No run can read another run's data: a victim's run (its source, its
//! candles, what it printed and the signals it returned) is followed, in
//! the same warm worker, by readers that scan their own memory for it.
//!
//! Each reader reads its process's memory by one route a script has
//! without `ctypes`:
//! - numpy's `__array_interface__`, which takes any integer as a data
//!   pointer;
//! - a forged code object whose `LOAD_CONST` reads past `co_consts` and
//!   returns a fake `bytearray` over any address (CPython 3.11).
//!
//! Both probe an address by writing from it to a pipe of their own (an
//! unmapped page fails with `EFAULT` instead of crashing), walk the
//! mapped pages around the heap, Python's arenas and numpy's buffers,
//! and look for the victim's bytes. The needles are kept XOR-masked so
//! that the reader itself never holds them; each reader also plants a
//! canary of its own and must find it, so a scan that reads nothing
//! cannot pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use worker_protocol::{Columns, Limits};

/// What the victim leaves: distinctive bytes in each part of its run.
const VICTIM_SOURCE: &str = "VICTIM-SOURCE-7f3a9c";
const VICTIM_LOG: &str = "VICTIM-LOG-b81e42";
const VICTIM_LABEL: &str = "VICTIM-LABEL-c0de9";
const VICTIM_PRICE: f64 = 98_765.432_101_234_5;

fn victim_candles() -> Columns {
    let mut candles = series(300);
    candles.close = vec![VICTIM_PRICE; 300];
    candles.open = vec![VICTIM_PRICE; 300];
    candles.high = vec![VICTIM_PRICE + 1.0; 300];
    candles.low = vec![VICTIM_PRICE - 1.0; 300];
    candles
}

fn victim_source() -> String {
    format!(
        r#"
# {VICTIM_SOURCE}
from inchart import buy
SECRET = "{VICTIM_SOURCE}" * 3
def signals(c):
    print("{VICTIM_LOG}" * 4)
    return [buy(c.time[i], c.close[i], label="{VICTIM_LABEL}") for i in range(0, len(c), 7)], {{}}
"#
    )
}

/// The scanner both readers share, then each route's way to read an
/// address. `READ(addr, n)` returns the bytes or None (unmapped).
const SCANNER: &str = r#"
import json, os, struct, sys
MASK = bytes(range(256)).translate(bytes(b ^ 0x5A for b in range(256)))
XOR = bytes(b ^ 0x5A for b in range(256))

def unmask(masked):
    return masked.translate(XOR)

R, W = os.pipe()
PAGE = 4096

def probe(view, n):
    """The n bytes behind `view`, or None when they are not mapped: the
    kernel's copy into a pipe fails with EFAULT where a read would crash."""
    try:
        os.write(W, view)
    except OSError:
        return None
    return os.read(R, n)
CHUNK = 16 * PAGE

def scan(read, seeds, needles_masked, canary_masked, limit_pages=60_000):
    seen = set()
    hits = {}
    found_canary = False
    pages = 0
    def look(addr, data):
        nonlocal found_canary
        masked = data.translate(XOR)
        for name, needle in needles_masked.items():
            if masked.find(needle) >= 0:
                hits[name] = hits.get(name, 0) + 1
        if masked.find(canary_masked) >= 0:
            found_canary = True
    for seed in seeds:
        base = seed & ~(PAGE - 1)
        for step in (PAGE, -PAGE):
            addr = base if step > 0 else base - PAGE
            while pages < limit_pages:
                if addr in seen:
                    break
                data = read(addr, PAGE)
                if data is None:
                    break
                seen.add(addr)
                pages += 1
                look(addr, data)
                addr += step
    return {"pages": pages, "canary": found_canary, "hits": hits}

NEEDLES = {name: bytes.fromhex(masked) for name, masked in json.loads(NEEDLES_JSON).items()}
CANARY_MASKED = bytes.fromhex(CANARY_HEX)
# The canary, plain, in this process's heap (a large bytearray goes to malloc).
PLANTED = bytearray(unmask(CANARY_MASKED) * 4) + bytearray(100_000)

def seeds_of(address_of):
    small = [object() for _ in range(100)]
    return [address_of(PLANTED), id(small[50]), id(json), id(sys.modules), id(len)]

def signals(c):
    result = scan(READ, seeds_of(ADDRESS_OF), NEEDLES, CANARY_MASKED)
    print("SCAN " + json.dumps(result))
    return [], {}
"#;

/// Reading through numpy's array interface.
const NUMPY_ROUTE: &str = r#"
import numpy as np

class _View:
    def __init__(self, addr, n):
        self.__array_interface__ = {"data": (addr, True), "shape": (n,), "typestr": "|u1", "version": 3}

def READ(addr, n):
    if addr <= 0:
        return None
    return probe(np.asarray(_View(addr, n)), n)

def ADDRESS_OF(buffer):
    return np.frombuffer(buffer, np.uint8).__array_interface__["data"][0]
"#;

/// Reading through a forged code object (no numpy).
const CODE_OBJECT_ROUTE: &str = r#"
import dis, types

_keep = []

def _forge(index, consts):
    """A function whose LOAD_CONST reads co_consts[index], far past its end."""
    op = dis.opmap
    code = bytes([op["RESUME"], 0])
    for shift in (24, 16, 8):
        code += bytes([op["EXTENDED_ARG"], (index >> shift) & 0xFF])
    code += bytes([op["LOAD_CONST"], index & 0xFF, op["RETURN_VALUE"], 0])
    def template():
        return None
    forged = template.__code__.replace(co_code=code, co_consts=consts, co_stacksize=2)
    return types.FunctionType(forged, {})

def READ(addr, n):
    if addr <= 0:
        return None
    # A PyByteArrayObject (3.11) over [addr, addr + n), never freed.
    fake = struct.pack("<qqqqqqq", 1 << 40, id(bytearray), n, n + 1, addr, addr, 0)
    consts = tuple([None])
    # A pointer to the fake object, anywhere: ceval's oparg is a C int, so
    # an index past 2**31 reaches before the tuple as well as after it.
    holder = struct.pack("<Q", id(fake) + 32)
    offset = id(holder) + 32 - (id(consts) + 24)
    if offset % 8 or not -(8 << 31) <= offset < (8 << 31):
        return None
    view = _forge((offset // 8) & 0xFFFFFFFF, consts)()
    _keep.extend((fake, holder, consts, view))
    return probe(view, n)

def ADDRESS_OF(buffer):
    # bytearray's ob_start (offset 40 in 3.11), read through the forged route.
    header = READ(id(buffer), 56)
    return struct.unpack_from("<Q", header, 40)[0]
"#;

fn masked_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b ^ 0x5A)).collect()
}

fn reader(route: &str, canary: &str) -> String {
    let needles = serde_json::json!({
        "source": masked_hex(VICTIM_SOURCE.as_bytes()),
        "log": masked_hex(VICTIM_LOG.as_bytes()),
        "label": masked_hex(VICTIM_LABEL.as_bytes()),
        "candles": masked_hex(&VICTIM_PRICE.to_le_bytes()),
    });
    format!(
        "NEEDLES_JSON = {needles:?}\nCANARY_HEX = {:?}\n{}\n{SCANNER}",
        masked_hex(canary.as_bytes()),
        route,
        needles = needles.to_string(),
    )
}

fn scan_result(log: &str) -> serde_json::Value {
    let line = log
        .lines()
        .find_map(|line| line.strip_prefix("SCAN "))
        .unwrap_or_else(|| panic!("the reader printed no result: {log:?}"));
    serde_json::from_str(line).unwrap()
}

fn reader_limits() -> Limits {
    Limits {
        cpu_ms: 60_000,
        wall_ms: 120_000,
        ..generous()
    }
}

#[test]
fn no_reader_finds_anything_of_an_earlier_run_in_its_memory() {
    let mut worker = Worker::start();
    for (route, name) in [(NUMPY_ROUTE, "numpy"), (CODE_OBJECT_ROUTE, "code object")] {
        // The victim, twice, so its bytes would be in every buffer the
        // supervisor reuses.
        for _ in 0..2 {
            let report = worker.run(&job(&victim_source(), victim_candles(), generous()));
            let output = ok(&report);
            assert!(
                output
                    .markers
                    .iter()
                    .all(|m| m.label.as_deref() == Some(VICTIM_LABEL))
            );
            assert!(report.log.contains(VICTIM_LOG));
        }
        let canary = format!("READER-CANARY-{}", name.replace(' ', "-"));
        let report = worker.run(&job(&reader(route, &canary), series(200), reader_limits()));
        ok(&report);
        let result = scan_result(&report.log);
        eprintln!("{name}: {result}");
        assert_eq!(
            result["canary"], true,
            "the {name} reader did not find its own canary: its scan read nothing useful ({result})"
        );
        assert!(
            result["pages"].as_u64().unwrap() > 100,
            "the {name} reader scanned too little: {result}"
        );
        assert_eq!(
            result["hits"],
            serde_json::json!({}),
            "the {name} reader found the victim's data in its own memory"
        );
    }
}
