//! Account pieces every page shares: the visitor's session from context,
//! the "Log in" / account link, and the forms that work with JavaScript
//! off and answer in place with it on.

use leptos::prelude::*;

use crate::account::{Flash, PageSession, Tone, get_page_session};

/// The visitor's session, loaded once per page load (a blocking resource:
/// it is in the server's HTML, and the browser hydrates from it).
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<PageSession, ServerFnError>>);

pub fn provide_page_session() {
    provide_context(SessionResource(Resource::new_blocking(
        || (),
        |_| get_page_session(),
    )));
}

/// The visitor's session; an empty one when it could not be read.
pub async fn page_session() -> PageSession {
    match use_context::<SessionResource>() {
        Some(SessionResource(resource)) => resource.await.unwrap_or_default(),
        None => PageSession::default(),
    }
}

/// "Log in", or the signed-in user's account link.
#[component]
pub fn AccountLink() -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match page_session().await.viewer {
                    // A full page load: the account page reads the session
                    // on the server, refreshing it when it has run out.
                    Some(viewer) => view! {
                        <a class="account-link" href="/account" rel="external" title="Your account">{viewer.email}</a>
                    }
                    .into_any(),
                    None => view! { <a class="account-link" href="/login">"Log in"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A form's current problem: the field it is about (if any) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormProblem {
    pub field: Option<String>,
    pub message: String,
}

#[derive(Clone, Copy)]
struct FormState {
    problem: RwSignal<Option<FormProblem>>,
    busy: RwSignal<bool>,
    /// The fields shown; a problem about any other shows above them.
    fields: StoredValue<Vec<&'static str>>,
}

/// A message carried to this page for `form`, as the form starts out.
fn starting_problem(flash: Option<&Flash>) -> Option<FormProblem> {
    flash
        .filter(|flash| flash.tone == Tone::Error)
        .map(|flash| FormProblem {
            field: flash.field.clone(),
            message: flash.message.clone(),
        })
}

/// A notice carried to this page for `form` (a success); its problems
/// too with `errors`, for actions that are a bare button rather than an
/// [`AccountForm`] (which shows its own).
#[component]
pub fn FlashNotice(
    session: PageSession,
    form: &'static str,
    #[prop(optional)] errors: bool,
) -> impl IntoView {
    session
        .flash_for(form)
        .filter(|flash| errors || flash.tone == Tone::Notice)
        .map(|flash| match flash.tone {
            Tone::Notice => {
                view! { <p class="form-notice" role="status">{flash.message.clone()}</p> }.into_any()
            }
            Tone::Error => {
                view! { <p class="form-error" role="alert">{flash.message.clone()}</p> }.into_any()
            }
        })
}

/// A POST form with the CSRF token. Without JavaScript the browser posts
/// it and follows the answer's redirect. With JavaScript the page posts it
/// itself, shows a problem next to its field without a reload, and goes
/// where the answer says when it worked.
#[component]
pub fn AccountForm(
    session: PageSession,
    /// The form's name, as carried messages know it.
    name: &'static str,
    action: String,
    submit: &'static str,
    /// The button's words while the form is on its way.
    busy_label: &'static str,
    #[prop(optional)] danger: bool,
    /// A secondary action: an outlined button.
    #[prop(optional)]
    quiet: bool,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let state = FormState {
        problem: RwSignal::new(starting_problem(session.flash_for(name))),
        busy: RwSignal::new(false),
        fields: StoredValue::new(Vec::new()),
    };
    provide_context(state);
    let general = move || {
        state
            .problem
            .get()
            .filter(|problem| match problem.field.as_deref() {
                Some(field) => !state.fields.with_value(|fields| fields.contains(&field)),
                None => true,
            })
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        enhanced::submit(event, state.problem, state.busy);
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    let button_class = match (danger, quiet) {
        (true, _) => "button danger",
        (false, true) => "button",
        (false, false) => "button primary",
    };
    view! {
        <form class="account-form" method="post" action=action on:submit=on_submit novalidate>
            <input type="hidden" name="csrf" value=session.csrf.clone() />
            {move || general().map(|problem| view! { <p class="form-error" role="alert">{problem.message}</p> })}
            {children.map(|children| children())}
            <div class="form-actions">
                <button type="submit" class=button_class disabled=move || state.busy.get()>
                    {move || if state.busy.get() { busy_label } else { submit }}
                </button>
            </div>
        </form>
    }
}

/// A labelled input whose problem, when it has one, shows beneath it.
#[component]
pub fn Field(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] value: String,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] autofocus: bool,
) -> impl IntoView {
    let state = use_context::<FormState>();
    if let Some(state) = state {
        state.fields.update_value(|fields| fields.push(name));
    }
    let problem = move || {
        state
            .and_then(|state| state.problem.get())
            .filter(|problem| problem.field.as_deref() == Some(name))
            .map(|problem| problem.message)
    };
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if !hint.is_empty() {
                ids.push(hint_id.clone());
            }
            if problem().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    // Clears the field's problem as soon as it is being fixed.
    let on_input = move |_| {
        if let Some(state) = state
            && state
                .problem
                .with_untracked(|p| p.as_ref().is_some_and(|p| p.field.as_deref() == Some(name)))
        {
            state.problem.set(None);
        }
    };
    view! {
        <div class="field" class:invalid=move || problem().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=value
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                autofocus=autofocus
                required
                aria-invalid=move || problem().is_some().then_some("true")
                aria-describedby=described
                on:input=on_input
            />
            {(!hint.is_empty()).then(|| view! { <p class="field-hint" id=hint_id>{hint}</p> })}
            {move || problem().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

/// A hidden value the form sends back (a token, where to go next).
#[component]
pub fn Hidden(name: &'static str, value: String) -> impl IntoView {
    view! { <input type="hidden" name=name value=value /> }
}

#[cfg(feature = "hydrate")]
mod enhanced {
    use inchart_api::error::ApiErrorBody;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use super::FormProblem;
    use crate::account::FormDone;

    pub fn submit(
        event: leptos::ev::SubmitEvent,
        problem: RwSignal<Option<FormProblem>>,
        busy: RwSignal<bool>,
    ) {
        let Some(form) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Ok(data) = web_sys::FormData::new_with_form(&form) else {
            return;
        };
        let Ok(body) = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data) else {
            return;
        };
        if let Some(local) = check_locally(&data) {
            event.prevent_default();
            problem.set(Some(local));
            return;
        }
        // From here the page answers the form itself.
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let action = form.action();
        leptos::task::spawn_local(async move {
            let outcome = post(&action, body).await;
            busy.set(false);
            match outcome {
                Ok(to) => {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().assign(&to);
                    }
                }
                Err(found) => problem.set(Some(found)),
            }
        });
    }

    /// What the page can tell before asking the server.
    fn check_locally(data: &web_sys::FormData) -> Option<FormProblem> {
        let text = |name: &str| data.get(name).as_string();
        if let Some(email) = text("email") {
            let email = email.trim();
            if email.is_empty() {
                return Some(problem("email", "Enter your email address."));
            }
            let (local, domain) = email.rsplit_once('@').unwrap_or_default();
            if local.is_empty() || !domain.contains('.') || email.contains(char::is_whitespace) {
                return Some(problem(
                    "email",
                    "That does not look like an email address; check it for typos.",
                ));
            }
        }
        for field in ["password", "current"] {
            if text(field).is_some_and(|value| value.is_empty()) {
                return Some(problem(field, "Enter a password."));
            }
        }
        None
    }

    fn problem(field: &str, message: &str) -> FormProblem {
        FormProblem {
            field: Some(field.to_string()),
            message: message.to_string(),
        }
    }

    async fn post(action: &str, body: web_sys::UrlSearchParams) -> Result<String, FormProblem> {
        let unreachable = || FormProblem {
            field: None,
            message: "InChart could not be reached. Check your connection and try again.".into(),
        };
        let response = gloo_net::http::Request::post(action)
            .header("Accept", "application/json")
            .body(body)
            .map_err(|_| unreachable())?
            .send()
            .await
            .map_err(|_| unreachable())?;
        if response.ok() {
            let done: FormDone = response.json().await.map_err(|_| unreachable())?;
            return Ok(done.redirect);
        }
        match response.json::<ApiErrorBody>().await {
            Ok(body) => Err(FormProblem {
                field: body.error.field,
                message: body.error.message,
            }),
            Err(_) => Err(unreachable()),
        }
    }
}
