//! Ansible's filters that reshape lists and maps: `dict2items`/`items2dict`, `combine`,
//! `flatten`, `extract`, `ternary`, and the set operations `union`, `intersect` and
//! `difference`.

use minijinja::value::{Kwargs, Rest, Value as MjValue, ValueKind};
use minijinja::{Environment, Error};
use serde_json::Value as Json;

use super::convert::{to_json, to_mj};
use super::filters::{fail, require_defined, type_name};

fn json_of(value: &MjValue) -> Result<Json, Error> {
    require_defined(value)?;
    to_json(value)
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("combine", combine);
    env.add_filter("ternary", ternary);
    env.add_filter("extract", extract);
    env.add_filter("flatten", flatten);
    env.add_filter("union", |a: &MjValue, b: &MjValue| {
        set_op(a, b, SetOp::Union)
    });
    env.add_filter("intersect", |a: &MjValue, b: &MjValue| {
        set_op(a, b, SetOp::Intersect)
    });
    env.add_filter("difference", |a: &MjValue, b: &MjValue| {
        set_op(a, b, SetOp::Difference)
    });
}

fn dict2items(v: &MjValue, kwargs: Kwargs) -> Result<MjValue, Error> {
    require_defined(v)?;
    let key_name = kwargs
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    if v.kind() != ValueKind::Map {
        return Err(fail(format!(
            "dict2items requires a dictionary, got {}",
            type_name(v)
        )));
    }
    let mut out = Vec::new();
    for key in v.try_iter()? {
        let value = v.get_item(&key)?;
        out.push(MjValue::from_pairs([
            (key_name.as_str(), key),
            (value_name.as_str(), value),
        ]));
    }
    Ok(MjValue::from(out))
}

fn items2dict(v: &MjValue, kwargs: Kwargs) -> Result<MjValue, Error> {
    require_defined(v)?;
    let key_name = kwargs
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    let mut pairs = Vec::new();
    for item in v.try_iter()? {
        let key = item.get_attr(&key_name)?;
        if key.is_undefined() {
            return Err(fail(format!("items2dict: an item has no '{key_name}' key")));
        }
        pairs.push((key, item.get_attr(&value_name)?));
    }
    Ok(MjValue::from_pairs(pairs))
}

/// `combine(dicts..., recursive=False, list_merge='replace')`.
fn combine(v: &MjValue, others: Rest<MjValue>, kwargs: Kwargs) -> Result<MjValue, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    kwargs.assert_all_used()?;
    let mut acc = json_of(v)?;
    let mut sources = Vec::new();
    for other in others.iter() {
        // A list of dicts is combined in order, as Ansible allows.
        match json_of(other)? {
            Json::Array(items) => sources.extend(items),
            single => sources.push(single),
        }
    }
    for src in sources {
        merge_json(&mut acc, src, recursive, &list_merge)?;
    }
    Ok(to_mj(&acc))
}

fn merge_json(dst: &mut Json, src: Json, recursive: bool, list_merge: &str) -> Result<(), Error> {
    let (Json::Object(dst_map), Json::Object(src_map)) = (&mut *dst, &src) else {
        return Err(fail("combine expects dictionaries"));
    };
    for (key, value) in src_map {
        match (dst_map.get_mut(key), value) {
            (Some(d @ Json::Object(_)), Json::Object(_)) if recursive => {
                merge_json(d, value.clone(), recursive, list_merge)?;
            }
            (Some(Json::Array(d)), Json::Array(s)) if list_merge != "replace" => match list_merge {
                "keep" => {}
                "append" => d.extend(s.iter().cloned()),
                "prepend" => {
                    let mut merged = s.clone();
                    merged.append(d);
                    *d = merged;
                }
                "append_rp" => {
                    d.retain(|x| !s.contains(x));
                    d.extend(s.iter().cloned());
                }
                "prepend_rp" => {
                    let mut merged = s.clone();
                    merged.extend(d.iter().filter(|x| !s.contains(x)).cloned());
                    *d = merged;
                }
                other => return Err(fail(format!("combine: unknown list_merge '{other}'"))),
            },
            _ => {
                dst_map.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

fn ternary(v: &MjValue, yes: MjValue, no: MjValue, none: Option<MjValue>) -> MjValue {
    match none {
        Some(none) if v.is_none() => none,
        _ if v.is_true() => yes,
        _ => no,
    }
}

/// `extract(container, morekeys)`: `container[item]`, then each of `morekeys` in turn.
fn extract(
    item: &MjValue,
    container: &MjValue,
    morekeys: Option<MjValue>,
) -> Result<MjValue, Error> {
    let mut value = container.get_item(item)?;
    if let Some(keys) = morekeys {
        let keys: Vec<MjValue> = match keys.kind() {
            ValueKind::Seq => keys.try_iter()?.collect(),
            _ => vec![keys],
        };
        for key in keys {
            value = value.get_item(&key)?;
        }
    }
    Ok(value)
}

fn flatten(v: &MjValue, levels: Option<usize>, kwargs: Kwargs) -> Result<MjValue, Error> {
    require_defined(v)?;
    let levels = levels.or(kwargs.get("levels")?);
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    fn walk(v: &MjValue, depth: Option<usize>, skip_nulls: bool, out: &mut Vec<MjValue>) {
        for item in v.try_iter().into_iter().flatten() {
            if item.kind() == ValueKind::Seq && depth != Some(0) {
                walk(&item, depth.map(|d| d - 1), skip_nulls, out);
            } else if !(skip_nulls && item.is_none()) {
                out.push(item);
            }
        }
    }
    let mut out = Vec::new();
    walk(v, levels, skip_nulls, &mut out);
    Ok(MjValue::from(out))
}

enum SetOp {
    Union,
    Intersect,
    Difference,
}

fn set_op(a: &MjValue, b: &MjValue, op: SetOp) -> Result<MjValue, Error> {
    require_defined(a)?;
    require_defined(b)?;
    let left: Vec<MjValue> = a.try_iter()?.collect();
    let right: Vec<MjValue> = b.try_iter()?.collect();
    let mut out: Vec<MjValue> = Vec::new();
    let candidates: Box<dyn Iterator<Item = &MjValue>> = match op {
        SetOp::Union => Box::new(left.iter().chain(right.iter())),
        SetOp::Intersect => Box::new(left.iter().filter(|x| right.contains(x))),
        SetOp::Difference => Box::new(left.iter().filter(|x| !right.contains(x))),
    };
    for item in candidates {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    Ok(MjValue::from(out))
}

#[cfg(test)]
mod tests {
    use crate::template::Templar;
    use crate::vars::Scope;
    use serde_json::json;

    #[test]
    fn collection_filters_give_ansible_results() {
        let vars = json!({"m": {"a": 1, "b": "two"}, "l": [3, 1], "nested": [1, [2, [3, null]]],
            "nothing": null});
        let scope = match vars {
            serde_json::Value::Object(map) => Scope::local(map),
            _ => unreachable!("the literal above is a map"),
        };
        let t = Templar::new();
        let cases = [
            (
                "{{ m | dict2items }}",
                "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 'two'}]",
            ),
            (
                "{{ m | dict2items(key_name='k', value_name='v') | items2dict(key_name='k', \
                 value_name='v') }}",
                "{'a': 1, 'b': 'two'}",
            ),
            (
                "{{ m | combine({'b': 3, 'c': 4}) }}",
                "{'a': 1, 'b': 3, 'c': 4}",
            ),
            (
                "{{ {'x': {'y': 1, 'z': 2}} | combine({'x': {'y': 9}}, recursive=true) }}",
                "{'x': {'y': 9, 'z': 2}}",
            ),
            (
                "{{ {'l': [1]} | combine({'l': [2]}, list_merge='append') }}",
                "{'l': [1, 2]}",
            ),
            (
                "{{ true | ternary('on', 'off') }}{{ nothing | ternary(1, 2, 'none') }}",
                "onnone",
            ),
            (
                "{{ ['x', 'y'] | map('extract', {'x': 1, 'y': 2}) | list }}",
                "[1, 2]",
            ),
            ("{{ nested | flatten }}", "[1, 2, 3]"),
            ("{{ nested | flatten(levels=1) }}", "[1, 2, [3, None]]"),
            (
                "{{ [1, 2] | union([2, 3]) }} {{ [1, 2] | intersect([2, 3]) }}",
                "[1, 2, 3] [2]",
            ),
            ("{{ [1, 2] | difference([2, 3]) }}", "[1]"),
            (
                "{{ 'x' | dict2items }}",
                "ERR dict2items requires a dictionary, got str",
            ),
        ];
        for (text, want) in cases {
            let got = match t.render_str(text, &scope) {
                Ok(out) => out,
                Err(err) => format!("ERR {}", err.message.split(", in template").next().unwrap()),
            };
            assert_eq!(got, want, "{text}");
        }
    }
}
