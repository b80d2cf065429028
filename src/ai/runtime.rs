//! Finding (and on first use fetching) the ONNX Runtime library, and the one ORT environment of the process.
//!
//! Order: `ORT_DYLIB_PATH`; the library next to the executable (what packages ship); the user cache; else the
//! pinned wheel of the chosen flavour is downloaded from PyPI, its SHA-256 checked, and only its runtime
//! libraries (`onnxruntime/capi/*.so|dll|dylib`, never Python code) are unpacked into the cache.
//! Flavour: `OEKAKI_ORT_FLAVOR=cpu|cuda|directml` (default cpu; the macOS cpu build includes CoreML).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::AiError;

/// Which ONNX Runtime build to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Cpu,
    Cuda,
    DirectMl,
}

impl Flavor {
    pub fn from_env() -> Result<Self, AiError> {
        match std::env::var("OEKAKI_ORT_FLAVOR").unwrap_or_default().as_str() {
            "" | "cpu" => Ok(Flavor::Cpu),
            "cuda" | "gpu" => Ok(Flavor::Cuda),
            "directml" | "dml" => Ok(Flavor::DirectMl),
            other => Err(AiError::Runtime(format!("OEKAKI_ORT_FLAVOR={other}: choose cpu, cuda or directml"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Flavor::Cpu => "cpu",
            Flavor::Cuda => "cuda",
            Flavor::DirectMl => "directml",
        }
    }
}

/// A pinned wheel on PyPI.
struct Wheel {
    flavor: Flavor,
    os: &'static str,
    arch: &'static str,
    version: &'static str,
    url: &'static str,
    sha256: &'static str,
    size: u64,
}

const PY: &str = "https://files.pythonhosted.org/packages";

/// ONNX Runtime 1.31.1 (DirectML stops at 1.24.4 on PyPI; ort is built for API 24 so both load).
const WHEELS: &[Wheel] = &[
    Wheel {
        flavor: Flavor::Cpu,
        os: "linux",
        arch: "x86_64",
        version: "1.31.1",
        url: "eb/27/c6a823bac55b2977bea2027c3ec9393a2c1002cb9a09eb40354563e02730/onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536",
        size: 23_760_988,
    },
    Wheel {
        flavor: Flavor::Cpu,
        os: "linux",
        arch: "aarch64",
        version: "1.31.1",
        url: "ba/e4/1ed1a7a5f4702d899091fa2b976d377995250c307326ec8dc9ae6378aa13/onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_aarch64.whl",
        sha256: "0b9a492176886992e0e875f06bc0367e333f5fff11711a2d642e18b02f3009cc",
        size: 21_420_803,
    },
    Wheel {
        flavor: Flavor::Cpu,
        os: "windows",
        arch: "x86_64",
        version: "1.31.1",
        url: "45/b2/793b4051d8dc6acb379ead9b72050f0ffa283ca49a6904add2e218b83e2e/onnxruntime-1.31.1-cp312-cp312-win_amd64.whl",
        sha256: "ae8a9a351efda685cc59a66226cdefaa37a126c1d66872ca23a2de9425326130",
        size: 14_888_466,
    },
    Wheel {
        flavor: Flavor::Cpu,
        os: "macos",
        arch: "aarch64",
        version: "1.31.1",
        url: "0e/f7/cecc0efeeea83bff2f7789ae1b80f27fa0f0210d6d9d66d1f0031a6b5e47/onnxruntime-1.31.1-cp312-cp312-macosx_14_0_arm64.whl",
        sha256: "96dd2564b10ea7153ad9c207e7cd8e5917cb3ba521e0e0a62ac03486fdc8d56c",
        size: 20_882_125,
    },
    Wheel {
        flavor: Flavor::Cuda,
        os: "linux",
        arch: "x86_64",
        version: "1.31.1",
        url: "22/97/9531b4d9e566cf2a0f04b4b5c26a3bc0ef2e2e0b6bc943a02c0eead98cf7/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl",
        sha256: "05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7",
        size: 255_569_273,
    },
    Wheel {
        flavor: Flavor::Cuda,
        os: "windows",
        arch: "x86_64",
        version: "1.31.1",
        url: "05/ec/fe99397c6d6582fe26502b608f132a1c7748381fa72523c8b7a0686b9b14/onnxruntime_gpu-1.31.1-cp312-cp312-win_amd64.whl",
        sha256: "2bb1e9373baba88f6415257f5b6a589d23e23c16004f7d89adf4344eada5749e",
        size: 168_098_228,
    },
    Wheel {
        flavor: Flavor::DirectMl,
        os: "windows",
        arch: "x86_64",
        version: "1.24.4",
        url: "88/ea/33814eb0ec96775eda4c1d30b0d86e91d7d2cd0d84c66d3915aef0e06fa3/onnxruntime_directml-1.24.4-cp312-cp312-win_amd64.whl",
        sha256: "f2ecb68b7b7b259d2ef3112ae760149f9b5a1e7c0fbb73d539da6250a648a614",
        size: 25_111_930,
    },
];

fn wheel_for(flavor: Flavor) -> Result<&'static Wheel, AiError> {
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    WHEELS.iter().find(|w| w.flavor == flavor && w.os == os && w.arch == arch).ok_or_else(|| {
        AiError::Runtime(format!(
            "no pinned ONNX Runtime {} build for {os}/{arch}; set ORT_DYLIB_PATH to an onnxruntime library",
            flavor.name()
        ))
    })
}

/// Is this a file name of the main runtime library (not a provider plug-in)?
fn is_main_library(name: &str) -> bool {
    name == "onnxruntime.dll"
        || (name.starts_with("libonnxruntime.") && (name.contains(".so") || name.ends_with(".dylib")))
}

/// Is this wheel member a native runtime library we unpack?
fn is_runtime_member(path: &str) -> Option<&str> {
    let name = path.strip_prefix("onnxruntime/capi/")?;
    let native = name.ends_with(".dll") || name.ends_with(".dylib") || name.contains(".so");
    (native && !name.contains('/') && !name.contains("pybind")).then_some(name)
}

/// The cache folder of one flavour and version.
pub fn cache_dir(flavor: Flavor) -> Result<PathBuf, AiError> {
    let wheel = wheel_for(flavor)?;
    let base = crate::paths::project_dirs()
        .map(|d| d.cache_dir().to_path_buf())
        .ok_or_else(|| AiError::Runtime("no cache folder on this system; set ORT_DYLIB_PATH".into()))?;
    Ok(base.join("onnxruntime").join(format!("{}-{}", wheel.version, flavor.name())))
}

fn find_main_library(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_main_library))
}

/// Download the pinned wheel, check it, unpack its runtime libraries into `dir` (atomically: a temp folder
/// renamed into place).
fn fetch(flavor: Flavor, dir: &Path) -> Result<(), AiError> {
    let wheel = wheel_for(flavor)?;
    let url = format!("{PY}/{}", wheel.url);
    let fail = |what: String| AiError::Runtime(format!("fetching ONNX Runtime from {url}: {what}"));
    let parent = dir.parent().ok_or_else(|| fail("bad cache folder".into()))?;
    std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    // The system's certificate store, so company proxies with their own CA work as they do for pip.
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let response = agent.get(&url).call().map_err(|e| fail(e.to_string()))?;
    let mut reader = response.into_body().into_reader().take(wheel.size + 1);
    let mut bytes = Vec::with_capacity(wheel.size as usize);
    reader.read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if hex != wheel.sha256 || bytes.len() as u64 != wheel.size {
        return Err(fail(format!("checksum mismatch (got {hex}, {} bytes)", bytes.len())));
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
    let staging = tempfile_dir(parent).map_err(|e| fail(e.to_string()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| fail(e.to_string()))?;
        let Ok(full) = entry.name().map(|n| n.into_owned()) else { continue };
        let Some(name) = is_runtime_member(&full).map(str::to_owned) else { continue };
        let mut out = std::fs::File::create(staging.join(&name)).map_err(|e| fail(e.to_string()))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| fail(e.to_string()))?;
        out.flush().map_err(|e| fail(e.to_string()))?;
    }
    if find_main_library(&staging).is_none() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(fail("the wheel holds no onnxruntime library".into()));
    }
    if std::fs::rename(&staging, dir).is_err() {
        // Another process finished first; its copy is as good as ours.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
}

fn tempfile_dir(parent: &Path) -> std::io::Result<PathBuf> {
    let dir = parent.join(format!(".partial-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Where the runtime library comes from (as `locate` decides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `ORT_DYLIB_PATH`.
    EnvVar,
    /// Shipped next to the executable.
    BesideExecutable,
    /// The user cache, of this flavour.
    Cache(Flavor),
}

/// Where `locate` takes the library from; None when `OEKAKI_ORT_FLAVOR` is not a flavour.
pub fn origin() -> Option<Origin> {
    if std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()) {
        return Some(Origin::EnvVar);
    }
    if std::env::current_exe().ok().and_then(|exe| exe.parent().and_then(find_main_library)).is_some() {
        return Some(Origin::BesideExecutable);
    }
    Flavor::from_env().ok().map(Origin::Cache)
}

/// The runtime library to load, fetching it into the cache the first time.
pub fn locate() -> Result<PathBuf, AiError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(AiError::Runtime(format!("ORT_DYLIB_PATH={} is not a file", p.display())))
        };
    }
    if let Some(beside) = std::env::current_exe().ok().and_then(|exe| exe.parent().and_then(find_main_library)) {
        return Ok(beside);
    }
    let flavor = Flavor::from_env()?;
    let dir = cache_dir(flavor)?;
    static FETCHING: Mutex<()> = Mutex::new(());
    let _guard = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = find_main_library(&dir) {
        return Ok(lib);
    }
    fetch(flavor, &dir)?;
    find_main_library(&dir).ok_or_else(|| AiError::Runtime(format!("no onnxruntime library in {}", dir.display())))
}

/// The process's ONNX Runtime environment (ORT allows one per process, for its whole life).
pub fn environment() -> Result<&'static ort::environment::Environment, AiError> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = locate().map_err(|e| match e {
            AiError::Runtime(m) => m,
            other => other.to_string(),
        })?;
        let builder =
            ort::init_from(&path).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
        // ONNX Runtime's own log goes to stderr in colour; every error it logs also comes back to us as a Result,
        // so its log is shown only when asked for (OEKAKI_ORT_LOG=1), one plain line each.
        let verbose = std::env::var_os("OEKAKI_ORT_LOG").is_some();
        let logger: ort::logging::LoggerFunction = std::sync::Arc::new(move |level, _category, _id, _at, message| {
            if verbose {
                eprintln!("onnxruntime {level:?}: {message}");
            }
        });
        builder
            .with_name("oekaki")
            .with_telemetry(false)
            .with_logger(logger)
            .build()
            .map_err(|e| format!("ONNX Runtime: {e}"))
    })
    .as_ref()
    .map_err(|e| AiError::Runtime(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_native_runtime_libraries_are_unpacked() {
        assert_eq!(is_runtime_member("onnxruntime/capi/libonnxruntime.so.1.31.1"), Some("libonnxruntime.so.1.31.1"));
        assert_eq!(is_runtime_member("onnxruntime/capi/onnxruntime.dll"), Some("onnxruntime.dll"));
        assert_eq!(
            is_runtime_member("onnxruntime/capi/onnxruntime_pybind11_state.cpython-312-x86_64-linux-gnu.so"),
            None
        );
        assert_eq!(is_runtime_member("onnxruntime/capi/../../evil.so"), None);
        assert_eq!(is_runtime_member("onnxruntime/tools/x.so"), None);
        assert!(is_main_library("libonnxruntime.so.1.31.1"));
        assert!(is_main_library("libonnxruntime.1.31.1.dylib"));
        assert!(!is_main_library("libonnxruntime_providers_shared.so"));
    }
}
