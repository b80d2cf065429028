//! Small rewrites of an ONNX model's graph, made on the file's bytes before a session is built from them.
//!
//! - [`prune_to_outputs`]: keep only the nodes some outputs need (ONNX Runtime runs every node of a graph
//!   whichever outputs are asked for).
//! - [`expose_in_graph_sampling`]: for VAE encoders that draw their latent sample inside the graph, output the
//!   distribution's mean and standard deviation instead, so the sample can come from the seeded generator.
//!
//! Only top-level nodes are edited, by their listed inputs. A graph whose nodes hold subgraphs (If, Loop, Scan:
//! they may read outer names without listing them) is left alone, as is one with sparse initializers or
//! model-local functions (which the external-data check does not walk, and a model loaded from memory would
//! resolve against the working folder). The bytes of every other field are copied as they are.

mod prune;
mod sampling;

pub use prune::prune_to_outputs;
pub use sampling::{LATENT_MEAN, LATENT_STD, expose_in_graph_sampling};

use std::collections::HashSet;
use std::ops::Range;

/// One field of a protobuf message: its number, wire type, the bytes of the whole field (key included) and,
/// for length-delimited fields, of its payload.
struct Field {
    number: u64,
    wire: u64,
    whole: Range<usize>,
    body: Range<usize>,
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field.
fn put_field(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A NodeProto's bytes.
fn node_proto(op_type: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        put_field(&mut n, 1, i.as_bytes());
    }
    for o in outputs {
        put_field(&mut n, 2, o.as_bytes());
    }
    put_field(&mut n, 4, op_type.as_bytes());
    n
}

/// The fields of the message in `buf[range]`, or None when it is not well-formed.
fn fields(buf: &[u8], range: Range<usize>) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let start = pos;
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        let body = match wire {
            0 => {
                varint(buf, &mut pos)?;
                pos..pos
            }
            1 => {
                pos += 8;
                pos..pos
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let body = pos..pos.checked_add(len)?;
                pos = body.end;
                body
            }
            5 => {
                pos += 4;
                pos..pos
            }
            _ => return None,
        };
        if pos > range.end {
            return None;
        }
        out.push(Field { number, wire, whole: start..pos, body });
    }
    Some(out)
}

fn string(buf: &[u8], f: &Field) -> Option<String> {
    (f.wire == 2).then(|| String::from_utf8_lossy(&buf[f.body.clone()]).into_owned())
}

/// A NodeProto's operator, inputs and outputs, and whether any attribute holds a subgraph.
struct Node {
    op_type: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    has_subgraph: bool,
}

fn node(buf: &[u8], range: Range<usize>) -> Option<Node> {
    let mut n = Node { op_type: String::new(), inputs: Vec::new(), outputs: Vec::new(), has_subgraph: false };
    for f in fields(buf, range)? {
        match (f.number, f.wire) {
            (1, 2) => n.inputs.push(string(buf, &f)?),
            (2, 2) => n.outputs.push(string(buf, &f)?),
            (4, 2) => n.op_type = string(buf, &f)?,
            // AttributeProto: g = 6, graphs = 11.
            (5, 2) => n.has_subgraph |= fields(buf, f.body.clone())?.iter().any(|a| matches!(a.number, 6 | 11)),
            _ => {}
        }
    }
    Some(n)
}

/// A model whose graph we can edit: its top-level fields, the graph's fields, nodes and outputs.
struct Parsed<'a> {
    bytes: &'a [u8],
    top: Vec<Field>,
    /// Index into `top` of ModelProto.graph (field 7).
    graph: usize,
    graph_fields: Vec<Field>,
    /// (index into `graph_fields`, node), in file order.
    nodes: Vec<(usize, Node)>,
    /// GraphProto.output, in order.
    outputs: Vec<Output>,
}

/// One graph output: where it is among the graph's fields, its name and its TypeProto's bytes.
struct Output {
    field: usize,
    name: String,
    type_proto: Option<Range<usize>>,
}

impl<'a> Parsed<'a> {
    /// None when the bytes are not a model we can read, or its graph is one we leave alone (module doc).
    fn new(bytes: &'a [u8]) -> Option<Self> {
        let top = fields(bytes, 0..bytes.len())?;
        let graph = top.iter().position(|f| f.number == 7 && f.wire == 2)?;
        if top.iter().filter(|f| f.number == 7).count() > 1 {
            return None; // protobuf would merge them
        }
        let graph_fields = fields(bytes, top[graph].body.clone())?;
        // ModelProto.functions = 25, GraphProto.sparse_initializer = 15.
        if top.iter().any(|f| f.number == 25) || graph_fields.iter().any(|f| f.number == 15) {
            return None;
        }
        let mut nodes = Vec::new();
        let mut outputs = Vec::new();
        for (i, f) in graph_fields.iter().enumerate() {
            match (f.number, f.wire) {
                (1, 2) => nodes.push((i, node(bytes, f.body.clone())?)),
                (12, 2) => {
                    // ValueInfoProto: name = 1, type = 2 (of a repeated singular field, the last one counts)
                    let info = fields(bytes, f.body.clone())?;
                    let name = info.iter().rfind(|v| v.number == 1).and_then(|v| string(bytes, v))?;
                    let type_proto = info.iter().rfind(|v| v.number == 2 && v.wire == 2).map(|v| v.body.clone());
                    outputs.push(Output { field: i, name, type_proto });
                }
                _ => {}
            }
        }
        if nodes.iter().any(|(_, n)| n.has_subgraph) {
            return None;
        }
        Some(Parsed { bytes, top, graph, graph_fields, nodes, outputs })
    }

    /// The model again without the graph fields `dropped` and with `appended` (whole fields) after the rest.
    fn rebuild(&self, dropped: &HashSet<usize>, appended: &[u8]) -> Vec<u8> {
        let mut graph = Vec::with_capacity(self.top[self.graph].body.len() + appended.len());
        for (i, f) in self.graph_fields.iter().enumerate() {
            if !dropped.contains(&i) {
                graph.extend_from_slice(&self.bytes[f.whole.clone()]);
            }
        }
        graph.extend_from_slice(appended);
        let mut out = Vec::with_capacity(self.bytes.len() + appended.len());
        for (i, f) in self.top.iter().enumerate() {
            if i == self.graph {
                put_field(&mut out, 7, &graph);
            } else {
                out.extend_from_slice(&self.bytes[f.whole.clone()]);
            }
        }
        out
    }
}

/// Builders for tests of the rewrites: tiny models made of fields, and what they hold.
#[cfg(test)]
mod test_models {
    use super::*;

    pub fn node_bytes(op: &str, inputs: &[&str], outputs: &[&str], subgraph: bool) -> Vec<u8> {
        let mut n = node_proto(op, inputs, outputs);
        if subgraph {
            let mut attr = Vec::new();
            put_field(&mut attr, 1, b"then_branch");
            put_field(&mut attr, 6, b"");
            put_field(&mut n, 5, &attr);
        }
        n
    }

    /// TypeProto { tensor_type { elem_type: FLOAT } }
    pub const FLOAT_TENSOR: &[u8] = &[0x0a, 0x02, 0x08, 0x01];

    pub fn model(nodes: &[Vec<u8>], outputs: &[&str]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            put_field(&mut g, 1, n);
        }
        put_field(&mut g, 2, b"graph");
        for o in outputs {
            let mut vi = Vec::new();
            put_field(&mut vi, 1, o.as_bytes());
            put_field(&mut vi, 2, FLOAT_TENSOR);
            put_field(&mut g, 12, &vi);
        }
        let mut m = vec![0x08, 0x08]; // ir_version 8
        put_field(&mut m, 7, &g);
        m
    }

    /// "op(inputs)->outputs" for every node, in order.
    pub fn nodes(m: &[u8]) -> Vec<String> {
        let p = Parsed::new(m).unwrap();
        p.nodes.iter().map(|(_, n)| format!("{}({})->{}", n.op_type, n.inputs.join(","), n.outputs.join(","))).collect()
    }

    pub fn outputs(m: &[u8]) -> Vec<String> {
        Parsed::new(m).unwrap().outputs.into_iter().map(|o| o.name).collect()
    }
}
