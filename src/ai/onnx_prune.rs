//! Keep only the part of an ONNX graph that some of its outputs need.
//!
//! ONNX Runtime runs every node of a graph whichever outputs are asked for. SAM v1's decoder ends in two
//! bilinear resizes of every candidate to the image size, which we do not need when we only read the
//! low-resolution logits (and scale up ourselves what is shown, at most 1024 px, and what is applied);
//! dropping those nodes before the session is made saves that work on every click.
//!
//! Only top-level nodes are pruned, by their listed inputs. A graph whose nodes hold subgraphs (If, Loop, Scan:
//! they may read outer names without listing them) is left whole, as is one that does not have every output
//! asked for, and one with sparse initializers or model-local functions (which the external-data check does
//! not walk, and a model loaded from memory would resolve against the working folder). The bytes of every
//! other field are copied as they are; initializers only dropped nodes used stay (ONNX Runtime drops them).

use std::collections::{HashMap, HashSet};
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

/// A NodeProto's inputs and outputs, and whether any attribute holds a subgraph.
struct Node {
    inputs: Vec<String>,
    outputs: Vec<String>,
    has_subgraph: bool,
}

fn node(buf: &[u8], range: Range<usize>) -> Option<Node> {
    let mut n = Node { inputs: Vec::new(), outputs: Vec::new(), has_subgraph: false };
    for f in fields(buf, range)? {
        match (f.number, f.wire) {
            (1, 2) => n.inputs.push(string(buf, &f)?),
            (2, 2) => n.outputs.push(string(buf, &f)?),
            // AttributeProto: g = 6, graphs = 11.
            (5, 2) => n.has_subgraph |= fields(buf, f.body.clone())?.iter().any(|a| matches!(a.number, 6 | 11)),
            _ => {}
        }
    }
    Some(n)
}

/// The model with only the nodes that `keep` (graph output names) need, and only those outputs; None when
/// nothing can be pruned this way (see the module doc) or the bytes are not a model we can read.
pub fn prune_to_outputs(model: &[u8], keep: &[&str]) -> Option<Vec<u8>> {
    let top = fields(model, 0..model.len())?;
    let graph = top.iter().find(|f| f.number == 7 && f.wire == 2)?;
    let graph_fields = fields(model, graph.body.clone())?;
    // ModelProto.functions = 25, GraphProto.sparse_initializer = 15.
    if top.iter().any(|f| f.number == 25) || graph_fields.iter().any(|f| f.number == 15) {
        return None;
    }

    let mut nodes = Vec::new(); // (index into graph_fields, node)
    let mut outputs = Vec::new(); // (index into graph_fields, name)
    for (i, f) in graph_fields.iter().enumerate() {
        match (f.number, f.wire) {
            (1, 2) => nodes.push((i, node(model, f.body.clone())?)),
            (12, 2) => {
                let name =
                    fields(model, f.body.clone())?.iter().find(|v| v.number == 1).and_then(|v| string(model, v))?;
                outputs.push((i, name));
            }
            _ => {}
        }
    }
    if nodes.iter().any(|(_, n)| n.has_subgraph) || !keep.iter().all(|k| outputs.iter().any(|(_, o)| o == k)) {
        return None;
    }

    // Walk back from the kept outputs to every node they need.
    let producer: HashMap<&str, usize> =
        nodes.iter().enumerate().flat_map(|(j, (_, n))| n.outputs.iter().map(move |o| (o.as_str(), j))).collect();
    let mut needed = vec![false; nodes.len()];
    let mut stack: Vec<&str> = keep.to_vec();
    let mut seen: HashSet<&str> = HashSet::new();
    while let Some(name) = stack.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(&j) = producer.get(name)
            && !needed[j]
        {
            needed[j] = true;
            stack.extend(nodes[j].1.inputs.iter().map(String::as_str).filter(|s| !s.is_empty()));
        }
    }
    if needed.iter().all(|&n| n) && outputs.len() == keep.len() {
        return None; // nothing to drop
    }

    let dropped: HashSet<usize> = nodes
        .iter()
        .zip(&needed)
        .filter(|(_, n)| !**n)
        .map(|((i, _), _)| *i)
        .chain(outputs.iter().filter(|(_, o)| !keep.contains(&o.as_str())).map(|(i, _)| *i))
        .collect();
    let mut new_graph = Vec::with_capacity(graph.body.len());
    for (i, f) in graph_fields.iter().enumerate() {
        if !dropped.contains(&i) {
            new_graph.extend_from_slice(&model[f.whole.clone()]);
        }
    }
    let mut out = Vec::with_capacity(model.len());
    for f in &top {
        if std::ptr::eq(f, graph) {
            put_varint(&mut out, (7 << 3) | 2);
            put_varint(&mut out, new_graph.len() as u64);
            out.extend_from_slice(&new_graph);
        } else {
            out.extend_from_slice(&model[f.whole.clone()]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, number: u64, body: &[u8]) {
        put_varint(out, (number << 3) | 2);
        put_varint(out, body.len() as u64);
        out.extend_from_slice(body);
    }

    fn node_bytes(inputs: &[&str], outputs: &[&str], subgraph: bool) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            field(&mut n, 1, i.as_bytes());
        }
        for o in outputs {
            field(&mut n, 2, o.as_bytes());
        }
        field(&mut n, 4, b"Relu");
        if subgraph {
            let mut attr = Vec::new();
            field(&mut attr, 1, b"then_branch");
            field(&mut attr, 6, b"");
            field(&mut n, 5, &attr);
        }
        n
    }

    fn model(nodes: &[Vec<u8>], outputs: &[&str]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            field(&mut g, 1, n);
        }
        field(&mut g, 2, b"graph");
        for o in outputs {
            let mut vi = Vec::new();
            field(&mut vi, 1, o.as_bytes());
            field(&mut g, 12, &vi);
        }
        let mut m = vec![0x08, 0x08]; // ir_version 8
        field(&mut m, 7, &g);
        m
    }

    fn names(m: &[u8], number: u64) -> Vec<String> {
        let top = fields(m, 0..m.len()).unwrap();
        let g = top.iter().find(|f| f.number == 7).unwrap();
        fields(m, g.body.clone())
            .unwrap()
            .iter()
            .filter(|f| f.number == number)
            .map(|f| match number {
                1 => node(m, f.body.clone()).unwrap().outputs.join(","),
                _ => string(m, &fields(m, f.body.clone()).unwrap()[0]).unwrap(),
            })
            .collect()
    }

    #[test]
    fn only_the_nodes_the_kept_outputs_need_remain() {
        // x → a → b (kept);  a → c → big (dropped); b, c → d (dropped)
        let m = model(
            &[
                node_bytes(&["x"], &["a"], false),
                node_bytes(&["a"], &["b"], false),
                node_bytes(&["a"], &["c"], false),
                node_bytes(&["c"], &["big"], false),
                node_bytes(&["b", "c"], &["d"], false),
            ],
            &["big", "b", "d"],
        );
        let p = prune_to_outputs(&m, &["b"]).unwrap();
        assert_eq!(names(&p, 1), ["a", "b"]);
        assert_eq!(names(&p, 12), ["b"]);
        assert_eq!(p[..2], [0x08, 0x08], "other model fields are kept");

        let p = prune_to_outputs(&m, &["d", "b"]).unwrap();
        assert_eq!(names(&p, 1), ["a", "b", "c", "d"]);
        assert_eq!(names(&p, 12), ["b", "d"]);
    }

    #[test]
    fn graphs_that_cannot_be_pruned_are_left_alone() {
        let plain = [node_bytes(&["x"], &["a"], false), node_bytes(&["a"], &["b"], false)];
        assert!(prune_to_outputs(&model(&plain, &["b"]), &["b"]).is_none(), "nothing to drop");
        assert!(prune_to_outputs(&model(&plain, &["a", "b"]), &["c"]).is_none(), "no such output");
        let with_if = [node_bytes(&["x"], &["a"], true), node_bytes(&["x"], &["b"], false)];
        assert!(prune_to_outputs(&model(&with_if, &["a", "b"]), &["b"]).is_none(), "a subgraph");
        let mut with_function =
            model(&[node_bytes(&["x"], &["a"], false), node_bytes(&["x"], &["b"], false)], &["a", "b"]);
        field(&mut with_function, 25, b"");
        assert!(prune_to_outputs(&with_function, &["b"]).is_none(), "model-local functions");
        assert!(prune_to_outputs(b"\x3a\xff\x01", &["b"]).is_none(), "truncated bytes");
        assert!(prune_to_outputs(b"", &["b"]).is_none());
    }
}
