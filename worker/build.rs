//! Finds the CPython that pyo3 links against (`PYO3_PYTHON`) and bakes two
//! things into the worker: an rpath to that Python's `libpython` (without
//! it the loader picks the system's libpython of the same soname), and the
//! interpreter's home (`sys.base_prefix`), the default for `--python-home`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
    let config = pyo3_build_config::get();
    let version = config.version();
    if (version.major, version.minor) < (3, 11) {
        panic!(
            "inchart-worker needs CPython 3.11 or newer, found {version}: set PYO3_PYTHON (scripts/setup.sh: setup_python)"
        );
    }
    if !config.shared() {
        panic!("inchart-worker embeds a shared libpython: build CPython with --enable-shared");
    }
    let Some(executable) = config.executable() else {
        panic!("pyo3 found no Python executable: set PYO3_PYTHON (scripts/setup.sh: setup_python)");
    };
    let output = Command::new(executable)
        .args([
            "-I",
            "-c",
            "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_config_var('LIBDIR'))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("running {executable}: {e}"));
    if !output.status.success() {
        panic!("{executable} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stdout =
        String::from_utf8(output.stdout).unwrap_or_else(|e| panic!("{executable} printed non-UTF-8: {e}"));
    let mut lines = stdout.lines();
    let (Some(home), Some(libdir)) = (lines.next(), lines.next()) else {
        panic!("{executable} did not print its prefix and library directory");
    };
    let libdir = config.lib_dir().unwrap_or(libdir);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
    println!("cargo:rustc-env=INCHART_PYTHON_HOME={home}");
    println!(
        "cargo:rustc-env=INCHART_PYTHON_STDLIB=lib/python{}.{}",
        version.major, version.minor
    );
}
