//! Model binding as ASP.NET Core does it for these endpoints: JSON bodies read by System.Text.Json
//! with the web defaults (property names case-insensitive, numbers also from strings) plus
//! `JsonStringEnumConverter` (`Program.cs:107-110`); C# `required` members enforced by STJ; the
//! attachment's query bound by C# property name, case-insensitively, empty strings becoming null;
//! then DataAnnotations validation, with non-nullable reference types implicitly `[Required]`
//! (ASP.NET's implicit attribute allows empty strings). Errors land in a [`ModelState`] keyed as
//! ASP.NET keys them: JSON errors by JSON path (`$.x`), validation errors by C# property path.

use crate::{enums, timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Errors of model binding and validation, in the order found (ASP.NET's `ModelStateDictionary`).
#[derive(Debug, Default)]
pub(crate) struct ModelState {
    /// `(key, message)` pairs.
    pub errors: Vec<(String, String)>,
}

impl ModelState {
    /// Adds one error.
    pub(crate) fn add(&mut self, key: impl Into<String>, msg: impl Into<String>) {
        self.errors.push((key.into(), msg.into()));
    }

    /// No errors.
    pub(crate) fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `[Required]`: "The X field is required." when absent (`allow_empty` for the implicit one).
    pub(crate) fn required(&mut self, key: &str, value: Option<&str>, allow_empty: bool) {
        let ok = match value {
            None => false,
            Some(s) => allow_empty || !s.trim().is_empty(),
        };
        if !ok {
            self.add(key, format!("The {} field is required.", display(key)));
        }
    }

    /// Implicit `[Required]` on a non-nullable reference (object or list): null is an error.
    pub(crate) fn not_null<T>(&mut self, key: &str, value: &Option<T>) {
        if value.is_none() {
            self.add(key, format!("The {} field is required.", display(key)));
        }
    }

    /// `[StringLength(max, MinimumLength = min)]` (UTF-16 length; null is valid).
    pub(crate) fn string_length(&mut self, key: &str, value: Option<&str>, max: usize, min: usize) {
        let Some(v) = value else { return };
        let len = v.encode_utf16().count();
        if len > max || len < min {
            let d = display(key);
            self.add(
                key,
                if min > 0 {
                    format!("The field {d} must be a string with a minimum length of {min} and a maximum length of {max}.")
                } else {
                    format!("The field {d} must be a string with a maximum length of {max}.")
                },
            );
        }
    }
}

/// The display name ASP.NET uses: the last property name of the key.
fn display(key: &str) -> &str {
    let last = key.rsplit('.').next().unwrap_or(key);
    last.split('[').next().unwrap_or(last)
}

/// Joins a validation key.
pub(crate) fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// The first System.Text.Json error; STJ stops at it.
#[derive(Debug)]
pub(crate) struct JsonError {
    /// JSON path (`$.a.b[0]`), the model-state key.
    pub path: String,
    /// STJ's message.
    pub message: String,
}

/// Result of reading JSON.
pub(crate) type JResult<T> = Result<T, JsonError>;

fn convert_error(path: &str, ty: &str) -> JsonError {
    JsonError {
        path: path.to_string(),
        message: format!("The JSON value could not be converted to {ty}. Path: {path}."),
    }
}

/// One JSON object being bound to a C# class.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    class: &'static str,
    missing: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// Starts binding `v` (at `path`) to `class`; `None` for JSON null.
    pub(crate) fn new(v: &'a Value, path: &str, class: &'static str) -> JResult<Option<Self>> {
        match v {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(Self { map, path: path.to_string(), class, missing: Vec::new() })),
            _ => Err(convert_error(path, class)),
        }
    }

    /// The value of property `name`, matched case-insensitively (the last match wins, as STJ).
    pub(crate) fn get(&self, name: &str) -> Option<(&'a Value, String)> {
        self.map
            .iter()
            .rfind(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, v)| (v, format!("{}.{k}", self.path)))
    }

    /// Property `name` read with `read`, `None` when absent; a C# `required` member when `required`.
    pub(crate) fn prop<T>(
        &mut self,
        name: &'static str,
        required: bool,
        read: impl FnOnce(&'a Value, &str) -> JResult<T>,
    ) -> JResult<Option<T>> {
        match self.get(name) {
            Some((v, path)) => read(v, &path).map(Some),
            None => {
                if required {
                    self.missing.push(name);
                }
                Ok(None)
            }
        }
    }

    /// Ends the object: STJ's check of C# `required` members.
    pub(crate) fn finish(self) -> JResult<()> {
        if self.missing.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.missing.iter().map(|n| format!("'{n}'")).collect();
        Err(JsonError {
            path: self.path.clone(),
            message: format!(
                "JSON deserialization for type '{}' was missing required properties including: {}.",
                self.class,
                names.join(", ")
            ),
        })
    }
}

/// A string or null.
pub(crate) fn string(v: &Value, path: &str) -> JResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(convert_error(path, "System.String")),
    }
}

/// Fails on null for a non-nullable value type.
fn value<T>(v: Option<T>, path: &str, ty: &str) -> JResult<T> {
    v.ok_or_else(|| convert_error(path, ty))
}

/// `int?`: a JSON integer, or a string holding one (`AllowReadingFromString`).
pub(crate) fn opt_i32(v: &Value, path: &str) -> JResult<Option<i32>> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok()).map(Some).ok_or_else(|| convert_error(path, "System.Int32"))
}

/// `int`.
pub(crate) fn i32_(v: &Value, path: &str) -> JResult<i32> {
    value(opt_i32(v, path)?, path, "System.Int32")
}

/// `bool?`: JSON true/false only.
pub(crate) fn opt_bool(v: &Value, path: &str) -> JResult<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(convert_error(path, "System.Boolean")),
    }
}

/// `bool`.
pub(crate) fn bool_(v: &Value, path: &str) -> JResult<bool> {
    value(opt_bool(v, path)?, path, "System.Boolean")
}

/// `Guid?`: the 36-character hyphenated form STJ reads.
pub(crate) fn opt_guid(v: &Value, path: &str) -> JResult<Option<Uuid>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.len() == 36 => {
            Uuid::parse_str(s).map(Some).map_err(|_| convert_error(path, "System.Guid"))
        }
        _ => Err(convert_error(path, "System.Guid")),
    }
}

/// `Guid`.
pub(crate) fn guid(v: &Value, path: &str) -> JResult<Uuid> {
    value(opt_guid(v, path)?, path, "System.Guid")
}

/// `DateTimeOffset?`.
pub(crate) fn opt_date(v: &Value, path: &str) -> JResult<Option<DateTime<Utc>>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            timestamp::parse(s).map(Some).ok_or_else(|| convert_error(path, "System.DateTimeOffset"))
        }
        _ => Err(convert_error(path, "System.DateTimeOffset")),
    }
}

/// `DateTimeOffset`.
pub(crate) fn date(v: &Value, path: &str) -> JResult<DateTime<Utc>> {
    value(opt_date(v, path)?, path, "System.DateTimeOffset")
}

/// A non-nullable enum (`JsonStringEnumConverter`: name or integer).
pub(crate) fn enum_(
    names: &'static [&'static str],
    ty: &'static str,
) -> impl Fn(&Value, &str) -> JResult<i64> {
    move |v, path| enums::read(names, v).ok_or_else(|| convert_error(path, ty))
}

/// A list (or null) of items read with `item`.
pub(crate) fn list<'a, T>(
    v: &'a Value,
    path: &str,
    item: impl Fn(&'a Value, &str) -> JResult<T>,
) -> JResult<Option<Vec<T>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| item(x, &format!("{path}[{i}]")))
            .collect::<JResult<Vec<T>>>()
            .map(Some),
        _ => Err(convert_error(path, "System.Collections.Generic.List")),
    }
}

/// A bound `Dictionary<string, string>`: keys with their (nullable) values.
pub(crate) type StringMap = Vec<(String, Option<String>)>;

/// A `Dictionary<string, string>` (or null).
pub(crate) fn string_map(v: &Value, path: &str) -> JResult<Option<StringMap>> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| string(x, &format!("{path}.{k}")).map(|s| (k.clone(), s)))
            .collect::<JResult<Vec<_>>>()
            .map(Some),
        _ => Err(convert_error(path, "System.Collections.Generic.Dictionary")),
    }
}

/// The body of a JSON endpoint, parsed; `Err` holds the model-state errors of an unreadable body.
/// `param` is the action parameter's name (its implicit `[Required]` error accompanies any failure).
pub(crate) fn parse_body(body: &[u8], param: &str) -> Result<Value, ModelState> {
    let mut ms = ModelState::default();
    if body.iter().all(u8::is_ascii_whitespace) {
        // Empty body: BodyModelBinder's "A non-empty request body is required." (key ""), then the
        // parameter's implicit [Required].
        ms.add("", "A non-empty request body is required.");
        ms.add(param, format!("The {param} field is required."));
        return Err(ms);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) => {
            ms.add("$", format!("The request body is not valid JSON: {e}. Path: $."));
            ms.add(param, format!("The {param} field is required."));
            Err(ms)
        }
    }
}

/// Turns the first JSON error into model state (plus the parameter's `[Required]`).
pub(crate) fn json_error(e: JsonError, param: &str) -> ModelState {
    let mut ms = ModelState::default();
    ms.add(e.path, e.message);
    ms.add(param, format!("The {param} field is required."));
    ms
}

/// Query-string values by key, for binding by C# property name (case-insensitive, first value
/// wins; an optional `<parameterName>.` prefix is accepted as ASP.NET does).
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    prefix: &'static str,
}

impl Query {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>, prefix: &'static str) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self { pairs, prefix }
    }

    /// The raw value of property `name`: `None` when absent.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        let with_prefix = format!("{}.{name}", self.prefix);
        let has_prefix = self.pairs.iter().any(|(k, _)| {
            k.len() > self.prefix.len()
                && k[..self.prefix.len()].eq_ignore_ascii_case(self.prefix)
                && k.as_bytes()[self.prefix.len()] == b'.'
        });
        let wanted = if has_prefix { with_prefix.as_str() } else { name };
        self.pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(wanted)).map(|(_, v)| v.as_str())
    }

    /// A string property: absent → `absent`; empty/whitespace → null (`ConvertEmptyStringToNull`).
    pub(crate) fn string(&self, name: &str, absent: Option<&str>) -> Option<String> {
        match self.raw(name) {
            None => absent.map(str::to_string),
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.to_string()),
        }
    }

    /// A value-typed property: absent → `None` (the default stays); unparsable or empty → model error.
    pub(crate) fn value<T>(
        &self,
        ms: &mut ModelState,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let v = self.raw(name)?;
        if v.trim().is_empty() {
            ms.add(name, "The value '' is invalid.");
            return None;
        }
        let parsed = parse(v.trim());
        if parsed.is_none() {
            ms.add(name, format!("The value '{v}' is not valid for {name}."));
        }
        parsed
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok()).unwrap_or(0);
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
