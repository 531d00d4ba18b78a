//! A namespace's tag rules on its page: what the manifest gate holds its tags to (immutable
//! and protected tags), listed for whoever sees the namespace, added and removed by its owners.

use leptos::prelude::*;

use super::components::*;

use crate::api::tag_rules::{
    get_signature_policy, list_tag_rules, AddTagRule, AddTrustedKey, RemoveTagRule, RemoveTrustedKey,
    SetSignatureRequired,
};
use crate::error::AppError;
use crate::model::{SignaturePolicyView, TagRuleView};

/// What the rules tab reads and does, made at the top of its page before anything is awaited
/// (see `cleanup::Cleanup` for why).
#[derive(Clone, Copy)]
pub struct TagRules {
    add: ServerAction<AddTagRule>,
    remove: ServerAction<RemoveTagRule>,
    rules: Resource<Result<Vec<TagRuleView>, AppError>>,
    signing: Signing,
}

/// The signature policy's part of the tab.
#[derive(Clone, Copy)]
struct Signing {
    require: ServerAction<SetSignatureRequired>,
    add_key: ServerAction<AddTrustedKey>,
    remove_key: ServerAction<RemoveTrustedKey>,
    policy: Resource<Result<SignaturePolicyView, AppError>>,
}

impl TagRules {
    pub fn new(namespace: impl Fn() -> String + Copy + Send + Sync + 'static) -> Self {
        let add = ServerAction::<AddTagRule>::new();
        let remove = ServerAction::<RemoveTagRule>::new();
        let rules = Resource::new(
            move || (namespace(), add.version().get(), remove.version().get()),
            |(ns, ..)| list_tag_rules(ns),
        );
        let (require, add_key, remove_key) = (ServerAction::new(), ServerAction::new(), ServerAction::new());
        let policy = Resource::new(
            move || (namespace(), require.version().get(), add_key.version().get(), remove_key.version().get()),
            |(ns, ..)| get_signature_policy(ns),
        );
        TagRules { add, remove, rules, signing: Signing { require, add_key, remove_key, policy } }
    }
}

/// `manage`: the viewer may add and remove rules (owners of the team, administrators).
#[component]
pub fn TagRulesCard(state: TagRules, namespace: String, manage: bool, registry_host: String) -> impl IntoView {
    let TagRules { add, remove, rules, signing } = state;
    let signing_ns = namespace.clone();
    let add_error = action_error(add);
    let remove_error = action_error(remove);
    let ns = namespace.clone();
    let list = move || {
        let ns = ns.clone();
        loaded(rules, move |rules| {
            if rules.is_empty() {
                return view! {
                    <EmptyState title="No tag rules">
                        <p>"Every tag here can be pushed again with another image, and deleted, by whoever may push or delete."</p>
                    </EmptyState>
                }
                .into_any();
            }
            let ns = ns.clone();
            view! {
                <Table head=vec!["Tags", "In", "Rule", "Added", ""] wide_only=vec![3]>
                    {rules
                        .into_iter()
                        .map(|r| {
                            let ns = ns.clone();
                            let question = format!("Remove the rule on tags {}? Those tags can then move and be deleted.", r.tags);
                            view! {
                                <tr>
                                    <td class=TD><code>{r.tags.clone()}</code></td>
                                    <td class=TD>{if r.repositories == "*" {
                                        view! { <span>"every repository"</span> }.into_any()
                                    } else {
                                        view! { <code>{r.repositories.clone()}</code> }.into_any()
                                    }}</td>
                                    <td class=TD>{crate::model::TagRuleView::describe(&r)}</td>
                                    <td class=format!("{TD} {WIDE_ONLY}")>{time_view(r.created_at)} " by " {r.created_by.clone()}</td>
                                    <td class=TD>
                                        {manage.then(|| view! {
                                            <ConfirmAction action=remove label="Remove…" question yes="Yes, remove it">
                                                <input type="hidden" name="namespace" value=ns.clone()/>
                                                <input type="hidden" name="id" value=r.id.to_string()/>
                                            </ConfirmAction>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </Table>
            }
            .into_any()
        })
    };
    view! {
        <div class="max-w-3xl space-y-6" id="rules">
            <Card title="Tag rules">
                <p class="mb-4 text-sm text-slate-600">
                    "An immutable tag, once it exists, is never pointed at another image nor deleted (pushing the same
                    image again passes: clients retry), and cleanup policies keep it. A protected tag is pushed and
                    deleted only by the roles its rule names. The gate holds the rules for every client of "
                    <code>{registry_host}</code> ", and a refused push says which rule refused it."
                </p>
                <FormError error=remove_error/>
                {list}
            </Card>
            {manage.then(|| view! {
                <Card title="Add a rule">
                    <ActionForm action=add attr:class="space-y-4">
                        <FormError error=add_error/>
                        <input type="hidden" name="namespace" value=namespace.clone()/>
                        <Field label="Tags" name="tags" placeholder="v*" required=true error=add_error
                            hint="A tag name, or a pattern: * for any run of characters, ? for one (v*, release-*, prod)."/>
                        <Field label="Repositories" name="repositories" placeholder="*" error=add_error
                            hint="The repositories of this namespace it covers, by their path after the namespace (app, tools/*); empty for all."/>
                        <fieldset class="space-y-2">
                            <legend class="mb-1 text-sm font-medium text-slate-700">"Rule"</legend>
                            <label class="flex items-start gap-2 text-sm">
                                <input type="radio" name="kind" value="immutable" checked=true class="mt-0.5"/>
                                <span><span class="font-medium text-slate-800">"Immutable"</span>
                                    <span class="text-slate-500">" — never moves, never deleted, kept by cleanup"</span></span>
                            </label>
                            <label class="flex items-start gap-2 text-sm">
                                <input type="radio" name="kind" value="protected" class="mt-0.5"/>
                                <span><span class="font-medium text-slate-800">"Protected"</span>
                                    <span class="text-slate-500">" — only these roles push and delete it:"</span></span>
                            </label>
                            <div class="flex flex-wrap gap-4 pl-6">
                                <RoleChoice name="push_role" label="Push"/>
                                <RoleChoice name="delete_role" label="Delete"/>
                            </div>
                        </fieldset>
                        <Submit label="Add rule" busy_label="Adding…" pending=add.pending()/>
                    </ActionForm>
                </Card>
            })}
            <SigningCard signing namespace=signing_ns manage/>
        </div>
    }
}

/// The signature policy: whether pulls need a cosign signature that verifies, and the public
/// keys trusted to make it.
#[component]
fn SigningCard(signing: Signing, namespace: String, manage: bool) -> impl IntoView {
    let Signing { require, add_key, remove_key, policy } = signing;
    let (require_error, add_error, remove_error) =
        (action_error(require), action_error(add_key), action_error(remove_key));
    let ns = namespace.clone();
    let body = move || {
        let ns = ns.clone();
        loaded(policy, move |p| {
            let state = if p.required {
                view! { <p class="text-sm font-medium text-emerald-700" data-testid="signing-state">"Required: a pull of an image without a signature that verifies against a key below is refused."</p> }.into_any()
            } else {
                view! { <p class="text-sm text-slate-600" data-testid="signing-state">"Not required: images are pulled signed or not."</p> }.into_any()
            };
            let keys = if p.keys.is_empty() {
                view! {
                    <EmptyState title="No trusted keys">
                        <p>"Add the public key (cosign.pub) your CI signs with, then require signatures."</p>
                    </EmptyState>
                }
                .into_any()
            } else {
                let ns = ns.clone();
                view! {
                    <Table head=vec!["Key", "Fingerprint", "Added", ""] wide_only=vec![1, 2]>
                        {p.keys.into_iter().map(|k| {
                            let ns = ns.clone();
                            let question = format!("Stop trusting the key {}? Images it signed then count as unsigned here.", k.name);
                            view! {
                                <tr>
                                    <td class=TD>{k.name.clone()}</td>
                                    <td class=format!("{TD} {WIDE_ONLY}")><code title=k.fingerprint.clone()>{k.fingerprint[..16].to_string()} "…"</code></td>
                                    <td class=format!("{TD} {WIDE_ONLY}")>{time_view(k.added_at)} " by " {k.added_by.clone()}</td>
                                    <td class=TD>
                                        {manage.then(|| view! {
                                            <ConfirmAction action=remove_key label="Remove…" question yes="Yes, stop trusting it">
                                                <input type="hidden" name="namespace" value=ns.clone()/>
                                                <input type="hidden" name="id" value=k.id.to_string()/>
                                            </ConfirmAction>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </Table>
                }
                .into_any()
            };
            let toggle = manage.then(|| {
                let ns = ns.clone();
                view! {
                    <ActionForm action=require attr:class="mt-4 flex flex-wrap items-center gap-3">
                        <input type="hidden" name="namespace" value=ns/>
                        <label class="flex items-center gap-2 text-sm text-slate-700">
                            <input type="checkbox" name="required" value="on" checked=p.required/>
                            "Require signed images on every pull"
                        </label>
                        <Submit label="Save" busy_label="Saving…" pending=require.pending()/>
                        <p class="w-full text-sm text-red-700" data-field-error="">
                            {move || require_error.get().filter(|e| e.field() == Some("required")).map(|e| e.message())}
                        </p>
                    </ActionForm>
                }
            });
            let grace = format!(
                "Whoever pushed an image may pull it unsigned for {} minutes, so that CI can sign it. Signatures themselves, and the \
                 per-platform images of a signed multi-platform image, always pass.",
                p.grace_seconds / 60
            );
            view! {
                {state}
                <p class="mt-1 text-xs text-slate-500">{grace}</p>
                <div class="mt-4">{keys}</div>
                {toggle}
            }
            .into_any()
        })
    };
    view! {
        <Card title="Signature policy">
            <p class="mb-4 text-sm text-slate-600">
                "Images are signed with cosign (" <code>"cosign sign --key cosign.key <image>"</code>
                "); the gate checks each pull's signature against the keys trusted here."
            </p>
            <FormError error=require_error/>
            <FormError error=remove_error/>
            {body}
        </Card>
        {manage.then(|| view! {
            <Card title="Trust a key">
                <ActionForm action=add_key attr:class="space-y-4">
                    <FormError error=add_error/>
                    <input type="hidden" name="namespace" value=namespace.clone()/>
                    <Field label="Name" name="name" placeholder="ci" required=true error=add_error
                        hint="What to call the key: it names the signer on the tag page."/>
                    <div>
                        <label for="field-public_key" class="mb-1 block text-sm font-medium text-slate-700">"Public key"</label>
                        <textarea id="field-public_key" name="public_key" rows="4" required=true class=format!("{INPUT} font-mono text-xs")
                            placeholder="-----BEGIN PUBLIC KEY-----"></textarea>
                        <p class="mt-1 text-xs text-slate-500">"The PEM of an ECDSA P-256 key: cosign.pub, from cosign generate-key-pair."</p>
                        <p class="mt-1 text-sm text-red-700" data-field-error="">
                            {move || add_error.get().filter(|e| e.field() == Some("public_key")).map(|e| e.message())}
                        </p>
                    </div>
                    <Submit label="Trust key" busy_label="Adding…" pending=add_key.pending()/>
                </ActionForm>
            </Card>
        })}
    }
}

/// A protected rule's least role for one action (owners by default).
#[component]
fn RoleChoice(name: &'static str, label: &'static str) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <div>
            <label for=id.clone() class="mb-1 block text-xs font-medium text-slate-600">{label}</label>
            <select id=id name=name class=SELECT>
                <option value="contributor">"contributors and owners"</option>
                <option value="owner" selected=true>"owners"</option>
                <option value="admin">"administrators only"</option>
            </select>
        </div>
    }
}
