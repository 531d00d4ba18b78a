//! Sign in, sign up and the account page.
//!
//! The sign-in, sign-up and sign-out forms post as plain forms even after hydration: a change
//! of identity reloads the whole page, so nothing rendered for the previous user survives.

use leptos::prelude::*;
use leptos::server_fn::ServerFn as _;
use leptos_meta::{Meta, Title};
use leptos_router::{components::Redirect, hooks::use_query_map};

use super::components::*;
use super::{signed_in, use_session};
use crate::api::account::{
    password_reset_user, pending_sign_in, ChangePassword, ChooseUsername, Login, RequestPasswordReset, ResetPassword,
    Signup, UpdateProfile,
};
use crate::api::tokens::{
    list_refresh_tokens, list_tokens, take_new_secret, CreateToken, RevokeRefreshToken, RevokeToken,
};
use crate::error::AppError;
use crate::model::{
    AccessTokenView, CreatedToken, FormFlash, Page, RefreshTokenView, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
    PASSWORD_RESET_MINUTES,
};

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
                let site = session.site.await.ok();
                let signup_enabled = site.as_ref().is_some_and(|s| s.signup_enabled);
                let providers = site.map(|s| s.providers).unwrap_or_default();
                let next = query.read_untracked().get("next").unwrap_or_default();
                let reset = query.read_untracked().get("reset").is_some();
                let sso_failure = query.read_untracked().get("sso").and_then(|c| crate::model::sso_failure(&c));
                let name_kept = use_context::<FormFlash>().is_some_and(|f| f.value("username").is_some());
                let provider_links = (!providers.is_empty()).then(|| {
                    let next = next.clone();
                    view! {
                        <div class="space-y-3">
                            {providers.into_iter().map(|p| {
                                let href = if next.is_empty() {
                                    format!("/login/oidc/{}", p.name)
                                } else {
                                    format!("/login/oidc/{}?next={}", p.name, super::urlencode(&next))
                                };
                                view! {
                                    <a href=href rel="external" data-testid="provider-sign-in"
                                        class="flex w-full items-center justify-center gap-2 rounded-md border border-slate-300 bg-white px-4 py-2.5 text-sm font-semibold text-slate-800 shadow-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">
                                        {format!("Sign in with {}", p.label)}
                                    </a>
                                }
                            }).collect_view()}
                        </div>
                        <div class="my-6 flex items-center gap-3 text-xs uppercase tracking-wide text-slate-400">
                            <span class="h-px flex-1 bg-slate-200"></span>"or with a password"<span class="h-px flex-1 bg-slate-200"></span>
                        </div>
                    }
                });
                view! {
                    <AuthCard title="Sign in to Portcullis" subtitle="Use your Portcullis account, the same one you use for docker login.">
                        {reset.then(|| view! {
                            <div class="mb-5"><Alert kind=AlertKind::Success message="Your new password is set, and you were signed out everywhere else. Sign in with it; docker logins need it too."/></div>
                        })}
                        {sso_failure.map(|message| view! {
                            <div class="mb-5"><Alert kind=AlertKind::Error message=message/></div>
                        })}
                        {provider_links}
                        <form method="post" action=Login::url() class="space-y-5">
                            <FormError error/>
                            <input type="hidden" name="next" value=next/>
                            <Field label="Username" name="username" autocomplete="username" required=true error/>
                            // After a refused sign-in the username is still there: the password is next.
                            <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true error
                                autofocus=name_kept/>
                            <Submit label="Sign in" busy_label="Signing in…"/>
                        </form>
                        <p class="mt-4 text-center text-sm"><a href="/forgot-password" class=LINK>"Forgot your password?"</a></p>
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

/// The first sign-in through a provider whose username cannot be used here (taken, or not a
/// valid registry name): the person chooses one.
#[component]
pub fn ChooseUsernamePage() -> impl IntoView {
    let action = ServerAction::<ChooseUsername>::new();
    let error = action_error(action);
    let pending = Resource::new(|| (), |_| pending_sign_in());
    view! {
        <Title text="Choose a username"/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match pending.await {
                    Ok(p) => {
                        let why = if p.claimed_name.is_empty() {
                            format!("{} did not give a username we can use.", p.provider)
                        } else {
                            format!("The name {} (from {}) is taken here, or is not a valid registry name.", p.claimed_name, p.provider)
                        };
                        view! {
                            <AuthCard title="Choose your username" subtitle="It is also your personal namespace in the registry, and it cannot change later.">
                                <p class="mb-5 text-sm text-slate-600">
                                    {format!("Welcome, {}. ", p.display_name)}{why}
                                </p>
                                <form method="post" action=ChooseUsername::url() class="space-y-5">
                                    <FormError error/>
                                    <Field label="Username" name="username" autocomplete="username" required=true error value=p.suggestion
                                        hint="2–64 characters: lowercase letters, digits, and . _ - between them."/>
                                    <Submit label="Continue" busy_label="Creating your account…"/>
                                </form>
                            </AuthCard>
                        }
                        .into_any()
                    }
                    Err(e) => view! {
                        <AuthCard title="Nothing to finish here" subtitle="A sign-in through a provider waits here only for a few minutes.">
                            <Alert kind=AlertKind::Info message=e.message()/>
                            <p class="mt-6 text-center text-sm"><a href="/login" class=LINK>"Go to sign in"</a></p>
                        </AuthCard>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// A forgotten password: a form that mails a reset link, or, without SMTP, who to ask.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let error = action_error(action);
    let query = use_query_map();
    let session = use_session();
    view! {
        <Title text="Forgot password"/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let by_email = session.site.await.map(|s| s.password_reset_by_email).unwrap_or(false);
                let back = view! { <p class="mt-6 text-center text-sm"><a href="/login" class=LINK>"Back to sign in"</a></p> };
                if !by_email {
                    return view! {
                        <AuthCard title="Forgot your password?" subtitle="Passwords here are reset by an administrator.">
                            <Alert kind=AlertKind::Info message=crate::model::NO_RESET_MAIL/>
                            {back}
                        </AuthCard>
                    }
                    .into_any();
                }
                if query.read_untracked().get("sent").is_some() {
                    return view! {
                        <AuthCard title="Check your email" subtitle="If an account matches, a link is on its way.">
                            <Alert kind=AlertKind::Success message=format!(
                                "If an account has that name or address, we sent a link to its email address. It works once, for {PASSWORD_RESET_MINUTES} minutes. Nothing arrived? Check the spam folder, or ask an administrator."
                            )/>
                            {back}
                        </AuthCard>
                    }
                    .into_any();
                }
                view! {
                    <AuthCard title="Forgot your password?" subtitle="We will email you a link to choose a new one.">
                        <form method="post" action=RequestPasswordReset::url() class="space-y-5">
                            <FormError error/>
                            <Field label="Username or email address" name="login" autocomplete="username" required=true error/>
                            <Submit label="Email me a link" busy_label="Sending…"/>
                        </form>
                        {back}
                    </AuthCard>
                }
                .into_any()
            })}
        </Transition>
    }
}

/// The page a reset link opens: a new password for the account the link is for.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let error = action_error(action);
    let query = use_query_map();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let whose = Resource::new(move || token.get(), password_reset_user);
    view! {
        <Title text="Choose a new password"/>
        // The token is in this page's address: never sent to another site.
        <Meta name="referrer" content="same-origin"/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match whose.await {
                    Ok(username) => view! {
                        <AuthCard title="Choose a new password" subtitle=format!("For the account {username}. It signs you out everywhere else.")>
                            <form method="post" action=ResetPassword::url() class="space-y-5">
                                <FormError error/>
                                <input type="hidden" name="token" value=token.get_untracked()/>
                                <Field label="New password" name="password" kind="password" autocomplete="new-password" required=true error
                                    hint=format!("At least {MIN_PASSWORD_LEN} characters (at most {MAX_PASSWORD_LEN}).")/>
                                <Field label="Confirm new password" name="password_confirm" kind="password" autocomplete="new-password" required=true error/>
                                <Submit label="Set password" busy_label="Saving…"/>
                            </form>
                        </AuthCard>
                    }
                    .into_any(),
                    Err(e) => view! {
                        <AuthCard title="This link does not work" subtitle="Reset links work once, for a short while.">
                            <Alert kind=AlertKind::Error message=e.message()/>
                            <p class="mt-6 text-center text-sm"><a href="/forgot-password" class=LINK>"Ask for a new link"</a></p>
                        </AuthCard>
                    }
                    .into_any(),
                }
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
    let profile = ServerAction::<UpdateProfile>::new();
    let profile_error = action_error(profile);
    let query = use_query_map();
    let saved = move |what: &'static str| query.read().get("saved").as_deref() == Some(what);
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let token_page = Memo::new(move |_| page_number(&query.read(), "page"));
    let tokens = Resource::new(
        move || (token_page.get(), create.version().get(), revoke.version().get()),
        |(page, ..)| list_tokens(Some(page)),
    );
    // After a plain form post the secret waits in the session for this one page load. The
    // resource lives here, outside the reactive closures, so it is fetched exactly once.
    let flashed = Resource::new(|| (), |_| take_new_secret());
    let revoke_client = ServerAction::<RevokeRefreshToken>::new();
    let clients = Resource::new(move || revoke_client.version().get(), |_| list_refresh_tokens());
    signed_in(move |user| {
        let password_saved = move || saved("password") && error.get().is_none();
        let profile_saved = move || (saved("profile") || action_ok(profile).get()) && profile_error.get().is_none();
        view! {
            <Title text="Account"/>
            <PageHeader title="Your account" subtitle=format!("Signed in as {}", user.username)/>
            <div class="grid gap-6 lg:grid-cols-2">
                <Card title="Profile">
                    <dl class="mb-4 grid grid-cols-3 gap-y-3 text-sm">
                        <dt class="text-slate-500">"Username"</dt>
                        <dd class="col-span-2 font-mono text-slate-900">{user.username.clone()}</dd>
                        <dt class="text-slate-500">"Role"</dt>
                        <dd class="col-span-2 text-slate-900">{if user.is_admin { "Administrator" } else { "User" }}</dd>
                    </dl>
                    <ActionForm action=profile attr:class="space-y-4">
                        {move || profile_saved().then(|| view! { <Alert kind=AlertKind::Success message="Profile saved."/> })}
                        <FormError error=profile_error/>
                        <Field label="Display name" name="display_name" value=user.display_name.clone() autocomplete="name" error=profile_error/>
                        <Field label="Email" name="email" kind="email" value=user.email.clone().unwrap_or_default() autocomplete="email" error=profile_error/>
                        <Submit label="Save profile" busy_label="Saving…" pending=profile.pending()/>
                    </ActionForm>
                </Card>
                <Card title="Change password">
                    <ActionForm action=action attr:class="space-y-4">
                        {move || password_saved().then(|| view! { <Alert kind=AlertKind::Success message="Your password was changed. Other sessions were signed out."/> })}
                        <FormError error/>
                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" required=true error/>
                        <Field label="New password" name="new_password" kind="password" autocomplete="new-password" required=true error
                            hint=format!("At least {MIN_PASSWORD_LEN} characters.")/>
                        <Field label="Confirm new password" name="new_password_confirm" kind="password" autocomplete="new-password" required=true error/>
                        <Submit label="Change password" busy_label="Saving…" pending=action.pending()/>
                    </ActionForm>
                </Card>
            </div>
            <div class="mt-6">
                <Tokens create revoke tokens flashed/>
            </div>
            <div class="mt-6">
                <Clients revoke=revoke_client clients/>
            </div>
        }
    })
}

/// The user's access tokens: create (the secret is shown once), list, revoke.
#[component]
fn Tokens(
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
    tokens: Resource<Result<Page<AccessTokenView>, AppError>>,
    flashed: Resource<Result<Option<CreatedToken>, AppError>>,
) -> impl IntoView {
    let create_error = action_error(create);
    let revoke_error = action_error(revoke);
    let secret = new_secret(create, flashed);
    view! {
        <section id="tokens" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">"Access tokens"</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">
                "For CI jobs and kubelets: use a token as the password in "
                <code class="rounded bg-slate-100 px-1">"docker login"</code>
                ", or as a Bearer token for the REST API. A restricted token cannot change anything through the API."
            </p>
            <NewSecret secret/>
            <div class="grid gap-6 lg:grid-cols-3">
                <ActionForm action=create attr:class="space-y-4">
                    <FormError error=create_error/>
                    <Field label="Name" name="name" required=true error=create_error placeholder="ci-deploy"/>
                    <Field label="Only these namespaces" name="namespaces" error=create_error placeholder="team-a, team-b" hint="Comma-separated. Empty: every namespace you may use."/>
                    <Field label="Expires after (days)" name="expires_days" kind="number" error=create_error hint="Empty: never."/>
                    <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="pull_only" value="true"/>"Pull only"</label>
                    <Submit label="Create token" busy_label="Creating…" pending=create.pending()/>
                </ActionForm>
                <div class="lg:col-span-2">
                    <div class="mb-3"><FormError error=revoke_error/></div>
                    {loaded_part(tokens, move |list| {
                        if list.items.is_empty() {
                            return view! {
                                <EmptyState title="No access tokens yet"><p>"Create one for each machine that pulls or pushes, so you can revoke them one by one."</p></EmptyState>
                            }.into_any();
                        }
                        let now = chrono::Utc::now();
                        let pager = pager(&list, |p| format!("/account?page={p}#tokens"));
                        view! {
                            <Table head=vec!["Name", "Allows", "Last used", "Expires", ""]>
                                {list.items.into_iter().map(|t| {
                                    let active = t.is_active(now);
                                    let allows = match (t.namespaces.is_empty(), t.pull_only) {
                                        (true, false) => "everything you may do".to_string(),
                                        (true, true) => "pull only".to_string(),
                                        (false, pull) => format!("{}{}", t.namespaces.join(", "), if pull { " (pull only)" } else { "" }),
                                    };
                                    view! {
                                        <tr class=(!active).then_some("opacity-60")>
                                            <td class=TD>
                                                <span class="font-medium text-slate-900">{t.name.clone()}</span>
                                                <p class="font-mono text-xs text-slate-500">{format!("{}…", t.prefix)}</p>
                                            </td>
                                            <td class=TD>{allows}</td>
                                            <td class=TD>{t.last_used_at.map(|u| time_view(u).into_any()).unwrap_or_else(|| view! { <span>"never"</span> }.into_any())}</td>
                                            <td class=TD>{t.expires_at.map(utc_date).unwrap_or_else(|| "never".into())}</td>
                                            <td class=format!("{TD} text-right")>
                                                {if t.revoked_at.is_some() {
                                                    view! { <Badge text="revoked" tone=Tone::Red/> }.into_any()
                                                } else if !active {
                                                    view! { <Badge text="expired" tone=Tone::Gray/> }.into_any()
                                                } else {
                                                    view! {
                                                        <ConfirmAction action=revoke label="Revoke…" question=format!("Revoke {}? Anything using it stops working at once.", t.name) yes="Yes, revoke">
                                                            <input type="hidden" name="id" value=t.id/>
                                                        </ConfirmAction>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </Table>
                            {pager}
                        }.into_any()
                    })}
                </div>
            </div>
        </section>
    }
}

/// Clients signed in with `docker login` (they keep a refresh token instead of the password).
#[component]
fn Clients(
    revoke: ServerAction<RevokeRefreshToken>,
    clients: Resource<Result<Vec<RefreshTokenView>, AppError>>,
) -> impl IntoView {
    let error = action_error(revoke);
    view! {
        <section id="clients" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">"Signed-in registry clients"</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">
                "Clients that keep a refresh token after " <code class="rounded bg-slate-100 px-1">"docker login"</code>
                ". Changing your password signs them all out."
            </p>
            <div class="mb-3"><FormError error/></div>
            {loaded_part(clients, move |list| {
                if list.is_empty() {
                    return view! { <p class="text-sm text-slate-500">"No client keeps a refresh token."</p> }.into_any();
                }
                view! {
                    <Table head=vec!["Client", "Signed in", "Last used", ""]>
                        {list.into_iter().map(|c| view! {
                            <tr class=(!c.active).then_some("opacity-60")>
                                <td class=TD>
                                    <span class="font-medium text-slate-900">{if c.client_id.is_empty() { "unknown client".to_string() } else { c.client_id.clone() }}</span>
                                    <p class="font-mono text-xs text-slate-500">{format!("{}…", c.prefix)}</p>
                                </td>
                                <td class=TD>{time_view(c.created_at)}</td>
                                <td class=TD>{c.last_used_at.map(|u| time_view(u).into_any()).unwrap_or_else(|| view! { <span>"never"</span> }.into_any())}</td>
                                <td class=format!("{TD} text-right")>
                                    {if c.active {
                                        view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=c.id/>
                                                <button type="submit" class=BUTTON_SMALL>"Sign out"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! { <Badge text="signed out" tone=Tone::Gray/> }.into_any()
                                    }}
                                </td>
                            </tr>
                        }).collect_view()}
                    </Table>
                }.into_any()
            })}
        </section>
    }
}
