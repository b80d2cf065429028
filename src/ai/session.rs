//! One ONNX model loaded into ONNX Runtime on an execution provider, with its inputs described from the session
//! (names, element types, ranks: never assumed) and values converted to the declared types on the way in.
//! Time spent inside `Session::run` is accumulated so callers can report the engine's own overhead.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ort::ep;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, TensorRef};

use super::{AiError, onnx_file, runtime};

/// The execution provider asked for on the command line or in settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// The first GPU provider that registers (CUDA, DirectML, CoreML), else CPU.
    Auto,
    Cpu,
    Cuda,
    DirectMl,
    CoreMl,
}

impl Device {
    pub fn parse(s: &str) -> Result<Self, AiError> {
        Ok(match s {
            "auto" => Device::Auto,
            "cpu" => Device::Cpu,
            "cuda" => Device::Cuda,
            "directml" => Device::DirectMl,
            "coreml" => Device::CoreMl,
            other => {
                return Err(AiError::Runtime(format!("unknown --ep \"{other}\" (auto, cpu, cuda, directml, coreml)")));
            }
        })
    }
}

/// Element types the pipelines feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    F16,
    I64,
    I32,
    Other,
}

/// One graph input as the session declares it; dynamic dimensions are −1.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    pub elem: Elem,
    pub shape: Vec<i64>,
}

/// A value to feed: always f32 or i64 on our side, converted to what the input declares.
pub enum Feed<'a> {
    F32(Vec<usize>, Vec<f32>),
    /// Borrowed floats, fed to a float input without a copy (a SAM image embedding is reused for every click).
    F32Ref(Vec<usize>, &'a [f32]),
    I64(Vec<usize>, Vec<i64>),
}

/// A float output, converted to f32.
#[derive(Debug, Clone)]
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub struct Model {
    session: Session,
    pub path: PathBuf,
    /// The provider that runs the model ("CPU", "CUDA", "DirectML", "CoreML").
    pub provider: &'static str,
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<String>,
    /// Wall time spent inside ONNX Runtime's `run` since load.
    pub ort_time: Duration,
    /// With `--ep auto` on CPU: why no GPU provider took (one line).
    pub gpu_fallback: Option<String>,
    /// Made from a rewritten graph (`load_rewritten`, `load_for_outputs`), not the file as it is.
    pub rewritten: bool,
}

fn elem(t: Option<TensorElementType>) -> Elem {
    match t {
        Some(TensorElementType::Float32) => Elem::F32,
        Some(TensorElementType::Float16) => Elem::F16,
        Some(TensorElementType::Int64) => Elem::I64,
        Some(TensorElementType::Int32) => Elem::I32,
        _ => Elem::Other,
    }
}

fn ort_err(path: &Path, e: impl std::fmt::Display) -> AiError {
    AiError::Model(format!("{}: {e}", path.display()))
}

type Builder = ort::session::builder::SessionBuilder;

/// CPU threads ONNX Runtime uses per session made from now on; 0 = its default (one per physical core).
static INTRA_OP_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Limit ONNX Runtime's CPU threads (and stop them spinning while idle), e.g. so a painting UI keeps a core.
pub fn set_intra_op_threads(threads: usize) {
    INTRA_OP_THREADS.store(threads, Ordering::Relaxed);
}

/// Register the providers for `device` in priority order; returns the name of the one that took and, when
/// `auto` fell back to the CPU, why.
fn register(builder: &mut Builder, device: Device, path: &Path) -> Result<(&'static str, Option<String>), AiError> {
    use ort::ep::ExecutionProvider;
    // (name, dispatch, whether this ONNX Runtime build has the provider at all)
    let in_build = |has: ort::Result<bool>| has.unwrap_or(true);
    let cuda = || ("CUDA", ep::CUDA::default().build().error_on_failure(), in_build(ep::CUDA::is_available()));
    let dml =
        || ("DirectML", ep::DirectML::default().build().error_on_failure(), in_build(ep::DirectML::is_available()));
    let coreml = || ("CoreML", ep::CoreML::default().build().error_on_failure(), in_build(ep::CoreML::is_available()));
    let candidates = match device {
        Device::Cpu => return Ok(("CPU", None)),
        Device::Auto => vec![cuda(), dml(), coreml()],
        Device::Cuda => vec![cuda()],
        Device::DirectMl => vec![dml()],
        Device::CoreMl => vec![coreml()],
    };
    let mut failures = Vec::new();
    for (name, dispatch, built_in) in candidates {
        if !built_in {
            failures.push((name, None));
            continue;
        }
        match dispatch.register(builder) {
            Ok(()) => return Ok((name, None)),
            Err(e) => failures.push((name, Some(one_line(&e.to_string())))),
        }
    }
    let origin = runtime::origin();
    if device == Device::Auto {
        return Ok(("CPU", Some(fallback_reason(&failures, origin))));
    }
    let (name, error) = failures.pop().unwrap_or(("CPU", None));
    let why = match error {
        Some(e) => format!("{name} did not start: {e}"),
        None => format!("this ONNX Runtime build has no {name} provider"),
    };
    Err(ort_err(
        path,
        format!("the requested execution provider is not available ({why}){}", provider_hint(device, origin)),
    ))
}

/// ONNX Runtime's message without its source location, on one line.
fn one_line(msg: &str) -> String {
    let msg = msg.rsplit_once("FAIL : ").map_or(msg, |(_, m)| m);
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One line on why `auto` found no GPU provider: a provider that is in the build but failed (missing CUDA
/// libraries, say) gives ONNX Runtime's own reason; a build without any says where one comes from.
fn fallback_reason(failures: &[(&str, Option<String>)], origin: Option<runtime::Origin>) -> String {
    use runtime::Origin;
    if let Some((name, Some(msg))) = failures.iter().find(|(_, msg)| msg.is_some()) {
        return format!("{name} did not start: {msg}");
    }
    match origin {
        Some(Origin::EnvVar) => "the ONNX Runtime library in ORT_DYLIB_PATH has no GPU provider".into(),
        Some(Origin::BesideExecutable) => {
            "the ONNX Runtime library shipped with the program has no GPU provider".into()
        }
        _ => "this ONNX Runtime build has no GPU provider; OEKAKI_ORT_FLAVOR=cuda (or directml on Windows) fetches \
              one that has"
            .into(),
    }
}

/// What to do when an explicitly requested provider is missing: most often the runtime is another flavour.
fn provider_hint(device: Device, origin: Option<runtime::Origin>) -> &'static str {
    use runtime::{Flavor, Origin};
    match (device, origin) {
        (_, Some(Origin::EnvVar)) => "; ORT_DYLIB_PATH names the library in use",
        (_, Some(Origin::BesideExecutable)) => "; the program uses the ONNX Runtime library shipped beside it",
        (Device::Cuda, Some(Origin::Cache(Flavor::Cuda))) => {
            "; ONNX Runtime 1.31 needs CUDA 13 (cudart, cuBLAS, cuRAND) and cuDNN 9 on the library path"
        }
        (Device::Cuda, _) => "; set OEKAKI_ORT_FLAVOR=cuda to use ONNX Runtime's CUDA build (README: ONNX Runtime)",
        (Device::DirectMl, Some(Origin::Cache(Flavor::DirectMl))) => {
            "; DirectML needs Windows 10 or newer and a DirectX 12 GPU"
        }
        (Device::DirectMl, _) => "; set OEKAKI_ORT_FLAVOR=directml (Windows) to use ONNX Runtime's DirectML build",
        (Device::CoreMl, _) if !cfg!(target_os = "macos") => "; CoreML is in the macOS build of ONNX Runtime only",
        _ => "",
    }
}

/// Refuse a missing model file, or one whose external weights would be read from outside its folder; returns
/// the external weight files.
fn vet(path: &Path) -> Result<Vec<PathBuf>, AiError> {
    if !path.is_file() {
        return Err(AiError::Model(format!("missing {}", path.display())));
    }
    onnx_file::check_external_data(path, &onnx_file::tensors(path)?)
}

impl Model {
    /// Load `path` (with any external weights next to it) on `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self, AiError> {
        vet(path)?;
        Self::load_from(path, device, None)
    }

    /// Load `path` keeping only the nodes that the outputs `keep` need (see `onnx_edit::prune_to_outputs`):
    /// the other outputs are gone from the session. A model that cannot be pruned (external weights,
    /// subgraphs, an output missing), or whose cut-down graph ONNX Runtime refuses, loads whole: check
    /// `rewritten` / `has_output`.
    pub fn load_for_outputs(path: &Path, device: Device, keep: &[&str]) -> Result<Self, AiError> {
        Self::load_rewritten(path, device, |bytes| super::onnx_edit::prune_to_outputs(bytes, keep))
    }

    /// Load `path` from the bytes `rewrite` makes of the file (see `onnx_edit`), or whole when it makes
    /// none, the weights are external or too big to hold in memory, or ONNX Runtime refuses the rewritten
    /// graph. `rewritten` says which.
    pub fn load_rewritten(
        path: &Path,
        device: Device,
        rewrite: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<Self, AiError> {
        /// Rewriting reads the whole file into memory; weights this big are not a decoder's or a VAE's.
        const MAX_REWRITTEN_BYTES: u64 = 512 << 20;
        let inline = vet(path)?.is_empty();
        let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_REWRITTEN_BYTES);
        let rewritten = (inline && small).then(|| std::fs::read(path).ok()).flatten().and_then(|bytes| rewrite(&bytes));
        if let Some(bytes) = rewritten
            && let Ok(model) = Self::load_from(path, device, Some(&bytes))
        {
            return Ok(model);
        }
        Self::load_from(path, device, None)
    }

    /// The session for `path` (vetted), made from `bytes` (the file's model, rewritten) when given.
    fn load_from(path: &Path, device: Device, bytes: Option<&[u8]>) -> Result<Self, AiError> {
        let env = runtime::environment()?;
        let mut builder = Session::builder(env).map_err(|e| ort_err(path, e))?;
        builder = builder.with_optimization_level(GraphOptimizationLevel::All).map_err(|e| ort_err(path, e))?;
        let threads = INTRA_OP_THREADS.load(Ordering::Relaxed);
        if threads > 0 {
            builder = builder.with_intra_threads(threads).map_err(|e| ort_err(path, e))?;
            builder = builder.with_intra_op_spinning(false).map_err(|e| ort_err(path, e))?;
        }
        let (provider, gpu_fallback) = register(&mut builder, device, path)?;
        if provider == "DirectML" {
            // DirectML cannot run with memory patterns or parallel execution (sequential is the default).
            builder = builder.with_memory_pattern(false).map_err(|e| ort_err(path, e))?;
        }
        let session = match bytes {
            Some(bytes) => builder.commit_from_memory(bytes),
            None => builder.commit_from_file(path),
        }
        .map_err(|e| ort_err(path, e))?;
        let inputs = session
            .inputs()
            .iter()
            .map(|o| InputSpec {
                name: o.name().to_string(),
                elem: elem(o.dtype().tensor_type()),
                shape: o.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default(),
            })
            .collect();
        let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
        Ok(Model {
            session,
            path: path.to_path_buf(),
            provider,
            inputs,
            outputs,
            ort_time: Duration::ZERO,
            gpu_fallback,
            rewritten: bytes.is_some(),
        })
    }

    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    pub fn has_output(&self, name: &str) -> bool {
        self.outputs.iter().any(|o| o == name)
    }

    fn to_value<'a>(&self, name: &str, feed: Feed<'a>) -> Result<SessionInputValue<'a>, AiError> {
        let spec =
            self.input(name).ok_or_else(|| ort_err(&self.path, format!("the model has no input named \"{name}\"")))?;
        let value = match (feed, spec.elem) {
            (Feed::F32Ref(shape, data), Elem::F32) => {
                let view = TensorRef::from_array_view((shape, data)).map_err(|e| ort_err(&self.path, e))?;
                return Ok(view.into());
            }
            (Feed::F32Ref(shape, data), _) => return self.to_value(name, Feed::F32(shape, data.to_vec())),
            (Feed::F32(shape, data), Elem::F32) => Tensor::from_array((shape, data)).map(|t| t.into_dyn()),
            (Feed::F32(shape, data), Elem::F16) => {
                let half: Vec<half::f16> = data.into_iter().map(half::f16::from_f32).collect();
                Tensor::from_array((shape, half)).map(|t| t.into_dyn())
            }
            (Feed::F32(shape, data), Elem::I64) => {
                Tensor::from_array((shape, data.into_iter().map(|v| v as i64).collect::<Vec<_>>()))
                    .map(|t| t.into_dyn())
            }
            (Feed::I64(shape, data), Elem::I64) => Tensor::from_array((shape, data)).map(|t| t.into_dyn()),
            (Feed::I64(shape, data), Elem::I32) => {
                Tensor::from_array((shape, data.into_iter().map(|v| v as i32).collect::<Vec<_>>()))
                    .map(|t| t.into_dyn())
            }
            (Feed::F32(shape, data), Elem::I32) => {
                Tensor::from_array((shape, data.into_iter().map(|v| v as i32).collect::<Vec<_>>()))
                    .map(|t| t.into_dyn())
            }
            (Feed::I64(shape, data), Elem::F32) => {
                Tensor::from_array((shape, data.into_iter().map(|v| v as f32).collect::<Vec<_>>()))
                    .map(|t| t.into_dyn())
            }
            _ => return Err(ort_err(&self.path, format!("input \"{name}\" has an element type we cannot feed"))),
        };
        value.map(SessionInputValue::from).map_err(|e| ort_err(&self.path, e))
    }

    /// Run the model on named inputs; returns the requested float outputs in order.
    pub fn run(&mut self, feeds: Vec<(&str, Feed<'_>)>, wanted: &[&str]) -> Result<Vec<Output>, AiError> {
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(feeds.len());
        for (name, feed) in feeds {
            let value = self.to_value(name, feed)?;
            inputs.push((Cow::Owned(name.to_string()), value));
        }
        let path = self.path.clone();
        let start = Instant::now();
        let outputs = self.session.run(inputs).map_err(|e| ort_err(&path, e))?;
        let elapsed = start.elapsed();
        let mut result = Vec::with_capacity(wanted.len());
        for name in wanted {
            let value =
                outputs.get(name).ok_or_else(|| ort_err(&path, format!("the model has no output named \"{name}\"")))?;
            let output = if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
                Output { shape: shape.iter().map(|&d| d as usize).collect(), data: data.to_vec() }
            } else {
                let (shape, data) = value.try_extract_tensor::<half::f16>().map_err(|e| ort_err(&path, e))?;
                Output {
                    shape: shape.iter().map(|&d| d as usize).collect(),
                    data: data.iter().map(|v| v.to_f32()).collect(),
                }
            };
            result.push(output);
        }
        drop(outputs);
        self.ort_time += elapsed;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::Flavor;

    #[test]
    fn a_missing_provider_says_which_runtime_has_it() {
        use runtime::Origin;
        let cache = |f| Some(Origin::Cache(f));
        assert!(provider_hint(Device::Cuda, cache(Flavor::Cpu)).contains("OEKAKI_ORT_FLAVOR=cuda"));
        assert!(provider_hint(Device::Cuda, cache(Flavor::Cuda)).contains("cuDNN 9"));
        assert!(provider_hint(Device::DirectMl, cache(Flavor::Cpu)).contains("OEKAKI_ORT_FLAVOR=directml"));
        assert!(provider_hint(Device::DirectMl, cache(Flavor::DirectMl)).contains("DirectX 12"));
        assert!(provider_hint(Device::Cuda, Some(Origin::EnvVar)).contains("ORT_DYLIB_PATH"));
        assert!(provider_hint(Device::Cuda, Some(Origin::BesideExecutable)).contains("shipped beside it"));
        assert_eq!(provider_hint(Device::Cpu, cache(Flavor::Cpu)), "");
    }

    #[test]
    fn auto_says_why_it_fell_back_to_the_cpu() {
        use runtime::Origin;
        let absent = [("CUDA", None), ("DirectML", None), ("CoreML", None)];
        assert!(fallback_reason(&absent, Some(Origin::Cache(Flavor::Cpu))).contains("OEKAKI_ORT_FLAVOR=cuda"));
        assert!(fallback_reason(&absent, Some(Origin::EnvVar)).contains("ORT_DYLIB_PATH"));
        assert!(fallback_reason(&absent, Some(Origin::BesideExecutable)).contains("shipped with the program"));
        let ort_message = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 \
             onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library \
             libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file\n";
        let broken = [("CUDA", Some(one_line(ort_message))), ("DirectML", None)];
        assert_eq!(
            fallback_reason(&broken, Some(Origin::Cache(Flavor::Cuda))),
            "CUDA did not start: Failed to load library libonnxruntime_providers_cuda.so with error: \
             libcublasLt.so.13: cannot open shared object file"
        );
    }
}
