//! Keep only the part of an ONNX graph that some of its outputs need.
//!
//! ONNX Runtime runs every node of a graph whichever outputs are asked for. SAM v1's decoder ends in two
//! bilinear resizes of every candidate to the image size, which we do not need when we only read the
//! low-resolution logits (and scale up ourselves what is shown, at most 1024 px, and what is applied);
//! dropping those nodes before the session is made saves that work on every click. Initializers only dropped
//! nodes used stay in the file (ONNX Runtime drops them).

use std::collections::{HashMap, HashSet};

use super::Parsed;

/// The model with only the nodes that `keep` (graph output names) need, and only those outputs; None when
/// nothing can be dropped, an output is missing, or the model is not one we edit (see the parent module).
pub fn prune_to_outputs(model: &[u8], keep: &[&str]) -> Option<Vec<u8>> {
    let p = Parsed::new(model)?;
    if !keep.iter().all(|k| p.outputs.iter().any(|o| &o.name == k)) {
        return None;
    }

    // Walk back from the kept outputs to every node they need.
    let producer: HashMap<&str, usize> =
        p.nodes.iter().enumerate().flat_map(|(j, (_, n))| n.outputs.iter().map(move |o| (o.as_str(), j))).collect();
    let mut needed = vec![false; p.nodes.len()];
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
            stack.extend(p.nodes[j].1.inputs.iter().map(String::as_str).filter(|s| !s.is_empty()));
        }
    }
    if needed.iter().all(|&n| n) && p.outputs.len() == keep.len() {
        return None; // nothing to drop
    }

    let dropped: HashSet<usize> = p
        .nodes
        .iter()
        .zip(&needed)
        .filter(|(_, n)| !**n)
        .map(|((i, _), _)| *i)
        .chain(p.outputs.iter().filter(|o| !keep.contains(&o.name.as_str())).map(|o| o.field))
        .collect();
    Some(p.rebuild(&dropped, &[]))
}

#[cfg(test)]
mod tests {
    use super::super::put_field;
    use super::super::test_models::{model, node_bytes, nodes, outputs};
    use super::*;

    fn relu(inputs: &[&str], output: &str) -> Vec<u8> {
        node_bytes("Relu", inputs, &[output], false)
    }

    fn made(m: &[u8]) -> Vec<String> {
        nodes(m).iter().map(|n| n.rsplit("->").next().unwrap_or_default().to_string()).collect()
    }

    #[test]
    fn only_the_nodes_the_kept_outputs_need_remain() {
        // x → a → b (kept);  a → c → big (dropped); b, c → d (dropped)
        let m = model(
            &[relu(&["x"], "a"), relu(&["a"], "b"), relu(&["a"], "c"), relu(&["c"], "big"), relu(&["b", "c"], "d")],
            &["big", "b", "d"],
        );
        let p = prune_to_outputs(&m, &["b"]).unwrap();
        assert_eq!(made(&p), ["a", "b"]);
        assert_eq!(outputs(&p), ["b"]);
        assert_eq!(p[..2], [0x08, 0x08], "other model fields are kept");

        let p = prune_to_outputs(&m, &["d", "b"]).unwrap();
        assert_eq!(made(&p), ["a", "b", "c", "d"]);
        assert_eq!(outputs(&p), ["b", "d"]);
    }

    #[test]
    fn graphs_that_cannot_be_pruned_are_left_alone() {
        let plain = [relu(&["x"], "a"), relu(&["a"], "b")];
        assert!(prune_to_outputs(&model(&plain, &["b"]), &["b"]).is_none(), "nothing to drop");
        assert!(prune_to_outputs(&model(&plain, &["a", "b"]), &["c"]).is_none(), "no such output");
        let with_if = [node_bytes("If", &["x"], &["a"], true), relu(&["x"], "b")];
        assert!(prune_to_outputs(&model(&with_if, &["a", "b"]), &["b"]).is_none(), "a subgraph");
        let mut with_function = model(&[relu(&["x"], "a"), relu(&["x"], "b")], &["a", "b"]);
        put_field(&mut with_function, 25, b"");
        assert!(prune_to_outputs(&with_function, &["b"]).is_none(), "model-local functions");
        assert!(prune_to_outputs(b"\x3a\xff\x01", &["b"]).is_none(), "truncated bytes");
        assert!(prune_to_outputs(b"", &["b"]).is_none());
    }
}
