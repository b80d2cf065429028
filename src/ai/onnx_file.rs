//! Just enough of the ONNX protobuf format to vet and read a model file without loading it: walk the graph's
//! tensors (initializers, `Constant` attributes, subgraphs), seeking over weight bytes instead of reading them.
//!
//! Used to refuse external-data paths that leave the model folder before ONNX Runtime opens anything, and to
//! read a few named weights (the text encoder's final LayerNorm, for CLIP skip).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::AiError;

/// Where a tensor's bytes live.
#[derive(Debug, Clone)]
pub enum TensorData {
    /// `raw_data` inside the model file: (offset, length).
    Raw(u64, u64),
    /// Packed `float_data` inside the model file: (offset, length in bytes).
    Floats(u64, u64),
    /// An external file next to the model: (relative location, offset, length or None for "to the end").
    External(String, u64, Option<u64>),
    None,
}

/// One tensor of the graph.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<i64>,
    /// ONNX `TensorProto.DataType` (1 = float, 10 = float16, …).
    pub data_type: i32,
    pub data: TensorData,
}

struct Walker<R> {
    r: R,
    pos: u64,
}

impl<R: Read + Seek> Walker<R> {
    fn byte(&mut self) -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        self.r.read_exact(&mut b)?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> std::io::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "bad varint"))
    }

    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        self.r.seek(SeekFrom::Current(n as i64))?;
        self.pos += n;
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> std::io::Result<Vec<u8>> {
        if n > 1 << 20 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "oversized string field"));
        }
        let mut v = vec![0u8; n as usize];
        self.r.read_exact(&mut v)?;
        self.pos += n;
        Ok(v)
    }

    /// Skip a field of the given wire type.
    fn skip_field(&mut self, wire: u64) -> std::io::Result<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.skip(8),
            2 => {
                let n = self.varint()?;
                self.skip(n)
            }
            5 => self.skip(4),
            _ => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "unsupported wire type")),
        }
    }

    /// Visit the fields of a message ending at `end`: `f(walker, field, wire, len)` must consume the field when
    /// it returns `true`; other fields are skipped.
    fn fields(
        &mut self,
        end: u64,
        f: &mut dyn FnMut(&mut Self, u64, u64, u64) -> std::io::Result<bool>,
    ) -> std::io::Result<()> {
        while self.pos < end {
            let key = self.varint()?;
            let (field, wire) = (key >> 3, key & 7);
            let len = if wire == 2 { self.varint()? } else { 0 };
            let start = self.pos;
            if !f(self, field, wire, len)? {
                if wire == 2 {
                    self.skip(len)?;
                } else {
                    self.skip_field(wire)?;
                }
            } else if wire == 2 && self.pos != start + len {
                let here = self.pos;
                self.skip((start + len).saturating_sub(here))?;
            }
        }
        Ok(())
    }

    fn tensor(&mut self, end: u64) -> std::io::Result<TensorInfo> {
        let mut t = TensorInfo { name: String::new(), dims: Vec::new(), data_type: 0, data: TensorData::None };
        let mut external: Vec<(String, String)> = Vec::new();
        self.fields(end, &mut |w, field, wire, len| {
            match (field, wire) {
                (1, 0) => t.dims.push(w.varint()? as i64),
                (1, 2) => {
                    let stop = w.pos + len;
                    while w.pos < stop {
                        t.dims.push(w.varint()? as i64);
                    }
                }
                (2, 0) => t.data_type = w.varint()? as i32,
                (4, 2) => {
                    t.data = TensorData::Floats(w.pos, len);
                    return Ok(false);
                }
                (8, 2) => t.name = String::from_utf8_lossy(&w.bytes(len)?).into_owned(),
                (9, 2) => {
                    t.data = TensorData::Raw(w.pos, len);
                    return Ok(false);
                }
                (13, 2) => {
                    let (mut k, mut v) = (String::new(), String::new());
                    let stop = w.pos + len;
                    w.fields(stop, &mut |w, field, wire, len| {
                        if wire != 2 {
                            return Ok(false);
                        }
                        match field {
                            1 => k = String::from_utf8_lossy(&w.bytes(len)?).into_owned(),
                            2 => v = String::from_utf8_lossy(&w.bytes(len)?).into_owned(),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })?;
                    external.push((k, v));
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if let Some((_, location)) = external.iter().find(|(k, _)| k == "location") {
            let num = |key: &str| external.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse::<u64>().ok());
            t.data = TensorData::External(location.clone(), num("offset").unwrap_or(0), num("length"));
        }
        Ok(t)
    }

    /// Collect tensors of a GraphProto (initializers, node attribute tensors, subgraphs).
    fn graph(&mut self, end: u64, out: &mut Vec<TensorInfo>, depth: u32) -> std::io::Result<()> {
        if depth > 16 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "subgraphs nested too deeply"));
        }
        self.fields(end, &mut |w, field, wire, len| {
            if wire != 2 {
                return Ok(false);
            }
            let stop = w.pos + len;
            match field {
                5 => out.push(w.tensor(stop)?),
                1 => w.node(stop, out, depth)?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    fn node(&mut self, end: u64, out: &mut Vec<TensorInfo>, depth: u32) -> std::io::Result<()> {
        self.fields(end, &mut |w, field, wire, len| {
            if field != 5 || wire != 2 {
                return Ok(false);
            }
            // AttributeProto: t = 5, g = 6, tensors = 10, graphs = 11.
            let stop = w.pos + len;
            w.fields(stop, &mut |w, field, wire, len| {
                if wire != 2 {
                    return Ok(false);
                }
                let stop = w.pos + len;
                match field {
                    5 | 10 => out.push(w.tensor(stop)?),
                    6 | 11 => w.graph(stop, out, depth + 1)?,
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            Ok(true)
        })
    }
}

fn bad(path: &Path, e: impl std::fmt::Display) -> AiError {
    AiError::Model(format!("{} is not a readable ONNX model: {e}", path.display()))
}

/// Every tensor stored in the model's graph, with where its bytes are.
pub fn tensors(path: &Path) -> Result<Vec<TensorInfo>, AiError> {
    let file = File::open(path).map_err(|e| bad(path, e))?;
    let size = file.metadata().map_err(|e| bad(path, e))?.len();
    let mut w = Walker { r: BufReader::new(file), pos: 0 };
    let mut out = Vec::new();
    w.fields(size, &mut |w, field, wire, len| {
        if field == 7 && wire == 2 {
            let stop = w.pos + len;
            w.graph(stop, &mut out, 0)?;
            return Ok(true);
        }
        Ok(false)
    })
    .map_err(|e| bad(path, e))?;
    Ok(out)
}

/// Refuse a model whose external data would be read from outside its folder; returns the external files.
pub fn check_external_data(path: &Path, tensors: &[TensorInfo]) -> Result<Vec<PathBuf>, AiError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut files: Vec<PathBuf> = Vec::new();
    for t in tensors {
        let TensorData::External(location, ..) = &t.data else { continue };
        let rel = Path::new(location);
        let escapes = rel.is_absolute()
            || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            || location.contains(':');
        if escapes {
            return Err(AiError::Model(format!(
                "{} refers to weights outside its folder ({location}); refusing to load it",
                path.display()
            )));
        }
        let full = dir.join(rel);
        if let (Ok(real), Ok(real_dir)) = (full.canonicalize(), dir.canonicalize())
            && !real.starts_with(&real_dir)
        {
            return Err(AiError::Model(format!(
                "{} links to weights outside its folder ({location}); refusing to load it",
                path.display()
            )));
        }
        if !full.is_file() {
            return Err(AiError::Model(format!("{} needs {} which is missing", path.display(), full.display())));
        }
        if !files.contains(&full) {
            files.push(full);
        }
    }
    Ok(files)
}

/// The float values of a float32 or float16 tensor.
pub fn read_floats(path: &Path, t: &TensorInfo) -> Result<Vec<f32>, AiError> {
    let count: i64 = t.dims.iter().product();
    if !(0..=1 << 28).contains(&count) {
        return Err(bad(path, format!("tensor {} has an unreasonable size", t.name)));
    }
    let elem = match t.data_type {
        1 => 4,
        10 => 2,
        other => return Err(bad(path, format!("tensor {} has data type {other}, not float", t.name))),
    };
    let (file, offset, len) = match &t.data {
        TensorData::Raw(o, l) | TensorData::Floats(o, l) => (path.to_path_buf(), *o, *l),
        TensorData::External(loc, o, l) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            (dir.join(loc), *o, l.unwrap_or(count as u64 * elem))
        }
        TensorData::None => return Err(bad(path, format!("tensor {} has no data", t.name))),
    };
    // Packed `float_data` is always float32; float16 weights come as raw bytes from every exporter.
    let elem = if matches!(t.data, TensorData::Floats(..)) { 4 } else { elem };
    if len != count as u64 * elem {
        return Err(bad(path, format!("tensor {} has {len} bytes for {count} values", t.name)));
    }
    let mut f = File::open(&file).map_err(|e| bad(&file, e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| bad(&file, e))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).map_err(|e| bad(&file, e))?;
    Ok(if elem == 4 {
        buf.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    } else {
        buf.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
    })
}
