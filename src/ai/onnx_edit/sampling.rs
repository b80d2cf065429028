//! VAE encoders from diffusers' legacy ONNX exporter sample the latent distribution inside the graph
//! (`mean + std · RandomNormalLike(…)`), from ONNX Runtime's own unseeded generator, so no seed reproduces an
//! img2img or inpainting result. This rewrite makes such a graph output the mean and the standard deviation
//! instead (as `latent_mean` and `latent_std`), and the caller draws the noise from the torch-compatible
//! generator, in diffusers' order.

use std::collections::HashSet;

use super::{Node, Parsed, node_proto, prune_to_outputs, put_field};

/// Output names the rewritten graph gives the distribution's mean and standard deviation.
pub const LATENT_MEAN: &str = "latent_mean";
pub const LATENT_STD: &str = "latent_std";

/// The model outputting [`LATENT_MEAN`] and [`LATENT_STD`] in place of the sample it drew, or None when the
/// graph does not sample exactly once as `Add(mean, Mul(std, RandomNormal[Like] through Casts))` into one of
/// its outputs, or is not one we edit (see the parent module).
pub fn expose_in_graph_sampling(model: &[u8]) -> Option<Vec<u8>> {
    let p = Parsed::new(model)?;
    let nodes: Vec<&Node> = p.nodes.iter().map(|(_, n)| n).collect();
    let consumers =
        |value: &str| -> Vec<&Node> { nodes.iter().copied().filter(|n| n.inputs.iter().any(|i| i == value)).collect() };
    let mut random = nodes.iter().filter(|n| matches!(n.op_type.as_str(), "RandomNormalLike" | "RandomNormal"));
    let (Some(random), None) = (random.next(), random.next()) else {
        return None;
    };
    // Follow the noise through Casts (a crafted cycle of them must not spin) to the Mul that scales it by the
    // standard deviation, ...
    let mut noise = random.outputs.first()?.as_str();
    let mut mul = None;
    for _ in 0..=nodes.len() {
        let [next] = consumers(noise)[..] else {
            return None;
        };
        match next.op_type.as_str() {
            "Cast" => noise = next.outputs.first()?,
            "Mul" => {
                mul = Some(next);
                break;
            }
            _ => return None,
        }
    }
    let mul = mul?;
    let std = other_input(mul, noise)?;
    // ... and to the Add that shifts it by the mean, into a graph output.
    let scaled = mul.outputs.first()?;
    let [add] = consumers(scaled)[..] else {
        return None;
    };
    let mean = other_input(add, scaled)?;
    let sample = add.outputs.first()?;
    let sample_info = p.outputs.iter().find(|o| &o.name == sample)?;
    let taken = |name: &str| nodes.iter().any(|n| n.outputs.iter().any(|o| o == name));
    if add.op_type != "Add" || std == noise || mean == scaled || taken(LATENT_MEAN) || taken(LATENT_STD) {
        return None;
    }

    let mut appended = Vec::new();
    for (value, name) in [(mean, LATENT_MEAN), (std, LATENT_STD)] {
        put_field(&mut appended, 1, &node_proto("Identity", &[value], &[name])); // GraphProto.node
        // GraphProto.output, with the sample's type, which mean and deviation share
        let mut info = Vec::new();
        put_field(&mut info, 1, name.as_bytes());
        if let Some(ty) = &sample_info.type_proto {
            put_field(&mut info, 2, &p.bytes[ty.clone()]);
        }
        put_field(&mut appended, 12, &info);
    }
    prune_to_outputs(&p.rebuild(&HashSet::new(), &appended), &[LATENT_MEAN, LATENT_STD])
}

/// The input of a two-input node that is not `known`.
fn other_input<'n>(node: &'n Node, known: &str) -> Option<&'n str> {
    match &node.inputs[..] {
        [a, b] if a == known => Some(b),
        [a, b] if b == known => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_models::{FLOAT_TENSOR, model, node_bytes, nodes, outputs};
    use super::*;

    fn op(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
        node_bytes(op, inputs, &[output], false)
    }

    /// The legacy exporter's tail: parameters → mean, std; shape → noise → Cast → Mul → Add → latent_sample.
    fn legacy_tail(noise_op: &str, extra: Vec<Vec<u8>>) -> Vec<u8> {
        let mut n = vec![
            op("Conv", &["sample", "w"], "params"),
            op("Slice", &["params", "s0"], "mean"),
            op("Slice", &["params", "s1"], "logvar"),
            op("Exp", &["logvar"], "std"),
            op("Shape", &["mean"], "shape"),
            op("ConstantOfShape", &["shape"], "zeros"),
            op(noise_op, &["zeros"], "noise"),
            op("Cast", &["noise"], "noise_f"),
            op("Mul", &["std", "noise_f"], "scaled"),
            op("Add", &["mean", "scaled"], "latent_sample"),
        ];
        n.extend(extra);
        model(&n, &["latent_sample"])
    }

    #[test]
    fn the_sample_becomes_its_mean_and_deviation() {
        let m = expose_in_graph_sampling(&legacy_tail("RandomNormalLike", vec![])).unwrap();
        assert_eq!(outputs(&m), [LATENT_MEAN, LATENT_STD]);
        let p = Parsed::new(&m).unwrap();
        let typed = p.outputs.iter().all(|o| o.type_proto.as_ref().is_some_and(|t| &m[t.clone()] == FLOAT_TENSOR));
        assert!(typed, "the new outputs carry the sample's type");
        assert_eq!(
            nodes(&m),
            [
                "Conv(sample,w)->params",
                "Slice(params,s0)->mean",
                "Slice(params,s1)->logvar",
                "Exp(logvar)->std",
                "Identity(mean)->latent_mean",
                "Identity(std)->latent_std",
            ]
        );
    }

    #[test]
    fn other_graphs_are_left_alone() {
        let plain = model(&[op("Conv", &["sample", "w"], "latent_parameters")], &["latent_parameters"]);
        assert!(expose_in_graph_sampling(&plain).is_none(), "no sampling");
        let twice = legacy_tail("RandomNormalLike", vec![op("RandomNormal", &[], "more")]);
        assert!(expose_in_graph_sampling(&twice).is_none(), "two draws");
        let shared = legacy_tail("RandomNormalLike", vec![op("Relu", &["noise_f"], "r")]);
        assert!(expose_in_graph_sampling(&shared).is_none(), "the noise is used elsewhere too");
        let taken = legacy_tail("RandomNormalLike", vec![op("Relu", &["mean"], LATENT_MEAN)]);
        assert!(expose_in_graph_sampling(&taken).is_none(), "the output name is taken");
        assert!(expose_in_graph_sampling(&legacy_tail("RandomUniformLike", vec![])).is_none(), "not a normal draw");
        let cycle = model(
            &[op("RandomNormalLike", &["x"], "noise"), op("Cast", &["noise"], "noise"), op("Relu", &["noise"], "y")],
            &["y"],
        );
        assert!(expose_in_graph_sampling(&cycle).is_none(), "a Cast cycle ends");
    }
}
