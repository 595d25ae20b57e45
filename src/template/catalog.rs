//! Keeps docs/templating.md's lists of filters and tests equal to what the template engine
//! really answers to: every Jinja2 and Ansible name (and every name mestral registers) is
//! tried on the built environment, and the doc must list exactly those that are known.

/// Jinja2's builtin filters and Ansible's (ansible.builtin) filters, the names a playbook
/// may reach for.
#[rustfmt::skip]
const FILTER_NAMES: &[&str] = &[
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent",
    "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "pprint",
    "random", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "slice", "sort", "split", "string", "striptags", "sum", "title", "tojson",
    "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap",
    "xmlattr", "b64decode", "b64encode", "basename", "bool", "checksum", "combine", "comment",
    "dict2items", "difference", "dirname", "expanduser", "expandvars", "extract", "fileglob",
    "flatten", "from_json", "from_yaml", "from_yaml_all", "hash", "human_readable",
    "human_to_bytes", "intersect", "items2dict", "mandatory", "md5", "password_hash", "path_join",
    "quote", "realpath", "regex_escape", "regex_findall", "regex_replace", "regex_search",
    "relpath", "sha1", "shuffle", "splitext", "strftime", "subelements", "symmetric_difference",
    "ternary", "to_datetime", "to_json", "to_nice_json", "to_nice_yaml", "to_uuid", "to_yaml",
    "type_debug", "union", "unvault", "urlsplit", "vault", "zip", "zip_longest", "product",
    "permutations", "combinations", "log", "pow", "root", "bin", "capitalize", "lstrip", "rstrip",
];

/// Jinja2's builtin tests and Ansible's.
#[rustfmt::skip]
const TEST_NAMES: &[&str] = &[
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false",
    "filter", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan",
    "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string",
    "test", "true", "undefined", "upper", "abs", "all", "any", "change", "changed", "contains",
    "directory", "exists", "failed", "failure", "falsy", "file", "finished", "link", "match",
    "mount", "nan", "regex", "same_file", "search", "skip", "skipped", "started", "subset",
    "succeeded", "success", "superset", "truthy", "vault_encrypted", "vaulted_file", "version",
    "version_compare", "startingwith", "endingwith", "safe",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use minijinja::ErrorKind;

    use super::*;

    /// The names `register` calls add in this folder's sources, so a new one is a candidate.
    fn registered(call: &str) -> Vec<String> {
        let sources = [
            include_str!("filters.rs"),
            include_str!("collections.rs"),
            include_str!("checks.rs"),
        ];
        let needle = format!("{call}(\"");
        sources
            .iter()
            .flat_map(|s| s.split(needle.as_str()).skip(1))
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    }

    /// Of `names`, those the engine knows, sorted.
    fn known(names: &[&str], extra: Vec<String>, filter: bool) -> BTreeSet<String> {
        let env = super::super::build_env();
        let candidates = names.iter().map(|n| n.to_string()).chain(extra);
        candidates
            .filter(|name| {
                let source = match filter {
                    true => format!("{{{{ x | {name} }}}}"),
                    false => format!("{{{{ x is {name} }}}}"),
                };
                let unknown = match filter {
                    true => ErrorKind::UnknownFilter,
                    false => ErrorKind::UnknownTest,
                };
                match env.render_str(&source, minijinja::context! { x => 1 }) {
                    Ok(_) => true,
                    Err(e) => e.kind() != unknown,
                }
            })
            .collect()
    }

    /// The backticked names of the doc's section headed `heading`.
    fn documented(heading: &str) -> BTreeSet<String> {
        let doc = include_str!("../../docs/templating.md");
        let start = doc
            .find(heading)
            .expect("the section is in docs/templating.md");
        let body = &doc[start + heading.len()..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        body.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    fn line(names: &BTreeSet<String>) -> String {
        let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        ticked.join(", ")
    }

    #[test]
    fn the_documented_filters_are_the_engines() {
        let known = known(FILTER_NAMES, registered("add_filter"), true);
        assert_eq!(
            documented("## Filters\n"),
            known,
            "the list should read:\n{}",
            line(&known)
        );
    }

    #[test]
    fn the_documented_tests_are_the_engines() {
        let known = known(TEST_NAMES, registered("add_test"), false);
        assert_eq!(
            documented("## Tests\n"),
            known,
            "the list should read:\n{}",
            line(&known)
        );
    }
}
