//! What one route declares: its method, path, access, handler and what
//! the OpenAPI document says of it. The table of every route is
//! [`super::routes::ROUTES`]; the router and the document read it.

use super::AppState;
use axum::routing::{MethodFilter, MethodRouter};
use schemars::generate::SchemaGenerator;
use schemars::JsonSchema;
use serde_json::Value;

/// One method of one path.
pub struct Route {
    /// `GET`, `POST`, `DELETE`: as the `Allow` header writes it; [`ANY`]:
    /// the handler answers every method (no 405).
    pub method: &'static str,
    /// The path in axum's syntax; the document writes it without the `*`.
    pub path: &'static str,
    /// Behind the admin secret (`console::auth::authorize`).
    pub admin: bool,
    /// The handler for `method` (given as a filter).
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
    /// Middleware around every answer on the path, the 405 included.
    pub around: Option<fn(MethodRouter<AppState>) -> MethodRouter<AppState>>,
    pub doc: Doc,
}

/// A route's `method` when its handler takes every method.
pub const ANY: &str = "*";

/// Whether a route is in the OpenAPI document.
pub enum Doc {
    Operation(Operation),
    /// Not in the document, for the reason given.
    Hidden(&'static str),
}

impl Route {
    /// The path as OpenAPI writes it (`/sessions/{key}`).
    pub fn openapi_path(&self) -> String {
        self.path.replace("{*", "{")
    }

    /// The documented operation, if any.
    pub fn operation(&self) -> Option<&Operation> {
        match &self.doc {
            Doc::Operation(op) => Some(op),
            Doc::Hidden(_) => None,
        }
    }
}

/// What the document says of one [`Route`].
pub struct Operation {
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The success status and its body's schema (`None`: the metrics text).
    pub success: (u16, fn(&mut SchemaGenerator) -> Option<Value>),
    pub body: Option<fn(&mut SchemaGenerator) -> Value>,
}

/// One parameter: `(name, where, description, required)`, where being
/// `path` or `query`.
pub type Param = (&'static str, &'static str, &'static str, bool);

/// `T`'s schema, its definition kept for the document's components.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}
