//! Sign in, sign up and the account page.
//!
//! The sign-in, sign-up and sign-out forms post as plain forms even after hydration: a change
//! of identity reloads the whole page, so nothing rendered for the previous user survives.

use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use super::components::{Alert, AlertKind, Card, Field, FormError, Loading, PageHeader, Submit, LINK};
use super::{signed_in, use_session};
use crate::api::account::{ChangePassword, Login, Signup};
use crate::error::AppError;
use crate::model::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};

/// The error of an action's last call, including one handed back in the URL after a plain post.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// A narrow centred card for the sign-in and sign-up forms.
#[component]
fn AuthCard(#[prop(into)] title: String, #[prop(into)] subtitle: String, children: Children) -> impl IntoView {
    view! {
        <div class="mx-auto w-full max-w-md py-4 sm:py-10">
            <div class="mb-6 text-center">
                <img src="/favicon.svg" alt="" class="mx-auto h-12 w-12"/>
                <h1 class="mt-4 text-2xl font-bold tracking-tight text-slate-900">{title}</h1>
                <p class="mt-1 text-sm text-slate-600">{subtitle}</p>
            </div>
            <div class="rounded-lg border border-slate-200 bg-white p-6 shadow-sm sm:p-8">{children()}</div>
        </div>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    let query = use_query_map();
    let session = use_session();
    view! {
        <Title text="Sign in"/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                if let Ok(Some(_)) = session.user.await {
                    return view! { <Redirect path="/"/> }.into_any();
                }
                let signup_enabled = session.site.await.map(|s| s.signup_enabled).unwrap_or(false);
                let next = query.read_untracked().get("next").unwrap_or_default();
                view! {
                    <AuthCard title="Sign in to Portcullis" subtitle="Use your Portcullis account, the same one you use for docker login.">
                        <form method="post" action=Login::url() class="space-y-5">
                            <FormError error/>
                            <input type="hidden" name="next" value=next/>
                            <Field label="Username" name="username" autocomplete="username" required=true error/>
                            <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true error/>
                            <Submit label="Sign in" busy_label="Signing in…"/>
                        </form>
                        {signup_enabled.then(|| view! {
                            <p class="mt-6 text-center text-sm text-slate-600">
                                "New here? " <a href="/signup" class=LINK>"Create an account"</a>
                            </p>
                        })}
                    </AuthCard>
                }
                .into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<Signup>::new();
    let error = action_error(action);
    let session = use_session();
    view! {
        <Title text="Sign up"/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                if let Ok(Some(_)) = session.user.await {
                    return view! { <Redirect path="/"/> }.into_any();
                }
                let signup_enabled = session.site.await.map(|s| s.signup_enabled).unwrap_or(false);
                if !signup_enabled {
                    return view! {
                        <AuthCard title="Sign-up is closed" subtitle="Accounts on this Portcullis are created by its administrators.">
                            <Alert kind=AlertKind::Info message="Ask an administrator to create an account for you, then sign in."/>
                            <p class="mt-6 text-center text-sm"><a href="/login" class=LINK>"Go to sign in"</a></p>
                        </AuthCard>
                    }
                    .into_any();
                }
                view! {
                    <AuthCard title="Create your account" subtitle="Your username is also your personal namespace in the registry.">
                        <form method="post" action=Signup::url() class="space-y-5">
                            <FormError error/>
                            <Field label="Username" name="username" autocomplete="username" required=true error
                                hint="2–64 characters: lowercase letters, digits, and . _ - between them."/>
                            <Field label="Password" name="password" kind="password" autocomplete="new-password" required=true error
                                hint=format!("At least {MIN_PASSWORD_LEN} characters (at most {MAX_PASSWORD_LEN}).")/>
                            <Field label="Confirm password" name="password_confirm" kind="password" autocomplete="new-password" required=true error/>
                            <Submit label="Create account" busy_label="Creating…"/>
                        </form>
                        <p class="mt-6 text-center text-sm text-slate-600">
                            "Already have an account? " <a href="/login" class=LINK>"Sign in"</a>
                        </p>
                    </AuthCard>
                }
                .into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = action_error(action);
    let query = use_query_map();
    let saved = move || query.read().get("saved").is_some() && error.get().is_none();
    signed_in(move |user| {
        view! {
            <Title text="Account"/>
            <PageHeader title="Your account" subtitle=format!("Signed in as {}", user.username)/>
            <div class="grid gap-6 lg:grid-cols-2">
                <Card title="Profile">
                    <dl class="grid grid-cols-3 gap-y-3 text-sm">
                        <dt class="text-slate-500">"Username"</dt>
                        <dd class="col-span-2 font-mono text-slate-900">{user.username.clone()}</dd>
                        <dt class="text-slate-500">"Role"</dt>
                        <dd class="col-span-2 text-slate-900">{if user.is_admin { "Administrator" } else { "User" }}</dd>
                    </dl>
                </Card>
                <Card title="Change password">
                    <ActionForm action=action attr:class="space-y-4">
                        {move || saved().then(|| view! { <Alert kind=AlertKind::Success message="Your password was changed. Other sessions were signed out."/> })}
                        <FormError error/>
                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" required=true error/>
                        <Field label="New password" name="new_password" kind="password" autocomplete="new-password" required=true error
                            hint=format!("At least {MIN_PASSWORD_LEN} characters.")/>
                        <Field label="Confirm new password" name="new_password_confirm" kind="password" autocomplete="new-password" required=true error/>
                        <Submit label="Change password" busy_label="Saving…" pending=action.pending()/>
                    </ActionForm>
                </Card>
            </div>
        }
    })
}
