//! The embedded CPython: started isolated (no environment, no user site,
//! no `site` module, no bytecode writing) with `sys.path` set to exactly
//! the standard library, `lib-dynload` and the `--site` directory, then
//! warmed up (numpy, the `inchart` helper module and common modules) so
//! that each run's child starts from a ready interpreter.

use std::ffi::CString;
use std::path::Path;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyModule, PyString, PyTuple};
use worker_protocol::payload::Payload;
use worker_protocol::{Limits, Mode};

use crate::sandbox::{Error, Plan};

const RUNNER: &str = include_str!("../python/runner.py");
const INCHART: &str = include_str!("../python/inchart.py");

/// What the warm interpreter reports about itself.
pub struct Versions {
    /// `sys.version`.
    pub python: String,
    /// `numpy.__version__`, when numpy is available.
    pub numpy: Option<String>,
}

/// The warm interpreter's runner module (`python/runner.py`).
pub struct Interpreter {
    runner: Py<PyModule>,
}

fn wide(text: &str) -> Vec<libc::wchar_t> {
    text.chars()
        .map(|c| c as libc::wchar_t)
        .chain(std::iter::once(0))
        .collect()
}

fn path_str(path: &Path) -> Result<&str, Error> {
    path.to_str()
        .ok_or_else(|| Error::new(format!("{} is not UTF-8", path.display())))
}

fn status(status: ffi::PyStatus, what: &str) -> Result<(), Error> {
    // SAFETY: PyStatus_Exception only reads the struct.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let message = if status.err_msg.is_null() {
        "unknown error".to_owned()
    } else {
        // SAFETY: a non-null err_msg is a static C string.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .into_owned()
    };
    Err(Error::new(format!("{what}: {message}")))
}

/// Starts Python and warms it up. Must run single-threaded, before any
/// other thread exists: it sets environment variables numpy's BLAS reads
/// when it loads (one thread, no thread pool).
pub fn start(plan: &Plan) -> Result<(Interpreter, Versions), Error> {
    for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
        // SAFETY: the process is single-threaded here (see above).
        unsafe { std::env::set_var(name, "1") };
    }
    let home = wide(path_str(&plan.python_home)?);
    let mut paths = vec![
        wide(path_str(&plan.stdlib)?),
        wide(path_str(&plan.lib_dynload())?),
    ];
    if let Some(site) = &plan.site {
        paths.push(wide(path_str(site)?));
    }

    // SAFETY: the documented embedding sequence: pre-initialise, fill in a
    // PyConfig, initialise from it, clear it; all pointers outlive the
    // calls that use them.
    unsafe {
        let mut pre = std::mem::MaybeUninit::<ffi::PyPreConfig>::zeroed();
        ffi::PyPreConfig_InitIsolatedConfig(pre.as_mut_ptr());
        let mut pre = pre.assume_init();
        pre.utf8_mode = 1;
        status(ffi::Py_PreInitialize(&pre), "pre-initialising Python")?;

        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitIsolatedConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        let result = (|| {
            status(
                ffi::PyConfig_SetString(&mut config, &mut config.home, home.as_ptr()),
                "setting the Python home",
            )?;
            config.module_search_paths_set = 1;
            for path in &paths {
                status(
                    ffi::PyWideStringList_Append(&mut config.module_search_paths, path.as_ptr()),
                    "setting sys.path",
                )?;
            }
            config.site_import = 0;
            config.write_bytecode = 0;
            config.user_site_directory = 0;
            config.use_environment = 0;
            config.parse_argv = 0;
            config.install_signal_handlers = 0;
            config.safe_path = 1;
            config.pathconfig_warnings = 0;
            status(ffi::Py_InitializeFromConfig(&config), "starting Python")
        })();
        ffi::PyConfig_Clear(&mut config);
        result?;
        // pyo3 attaches to the interpreter itself from here on.
        ffi::PyEval_SaveThread();
    }

    Python::attach(|py| {
        let failed = |e: PyErr| Error::new(format!("warming up Python: {}", describe(py, &e)));
        let code = CString::new(RUNNER).map_err(|_| Error::new("runner.py has a NUL byte"))?;
        let runner =
            PyModule::from_code(py, &code, c"<inchart-runner>", c"_inchart_runner").map_err(failed)?;
        let (python, numpy): (String, Option<String>) = runner
            .call_method1("warm", (plan.site.is_some(), INCHART))
            .and_then(|versions| versions.extract())
            .map_err(failed)?;
        Ok((
            Interpreter {
                runner: runner.unbind(),
            },
            Versions { python, numpy },
        ))
    })
}

fn describe(py: Python<'_>, error: &PyErr) -> String {
    let text = error.to_string();
    match error.traceback(py).and_then(|tb| tb.format().ok()) {
        Some(tb) => format!("{text}\n{tb}"),
        None => text,
    }
}

/// A job turned into the runner's arguments, built in the child before
/// its memory is measured (so the allowance is the script's own).
pub struct Prepared<'py> {
    args: Bound<'py, PyTuple>,
}

impl Interpreter {
    /// Builds the arguments of `runner.run` for `payload`, writing to `fd`.
    pub fn prepare<'py>(
        &self,
        py: Python<'py>,
        payload: &Payload<'_>,
        fd: i32,
        limits: &Limits,
    ) -> PyResult<Prepared<'py>> {
        let columns = PyTuple::new(py, payload.columns.iter().map(|column| PyBytes::new(py, column)))?;
        let output_limit = limits
            .output_bytes
            .min((worker_protocol::MAX_FRAME - worker_protocol::judge::ANSWER_OVERHEAD) as u64);
        // None for a chart run, (window, confirm_max) for a backtest.
        let backtest = match payload.mode {
            Mode::Chart => None,
            Mode::Backtest { window, confirm_max } => Some((window, confirm_max)),
        };
        let args = (
            PyString::new(py, payload.source),
            columns,
            fd,
            output_limit,
            worker_protocol::MAX_LOG,
            limits.memory_bytes,
            backtest,
        )
            .into_pyobject(py)?;
        Ok(Prepared { args })
    }

    /// Runs the script: the runner sends its log and result to the pipe
    /// and never raises (a failure here is the sandbox's own).
    pub fn run(&self, py: Python<'_>, prepared: Prepared<'_>) -> PyResult<()> {
        self.runner.bind(py).call_method1("run", prepared.args)?;
        Ok(())
    }
}
