/**
 * The dashboard's shared state: language, who is signed in, institutions and tasks, the error on
 * screen. Components read it and call `act` for anything that changes the server, so a refusal is
 * always shown (explained, in the chosen language) and the lists are fresh afterwards.
 */
import { adminCall, AdminApiError, tokenStore, type AdminIdentity, type Institution } from './api.ts';
import { adminStrings, explainError, type ExplainedError, type Lang } from './i18n.ts';
import type { Task } from '../protocol/schemas.ts';

const LANG_KEY = 'dure-admin-lang';

export type Screen = 'tasks' | 'wizard' | 'institutions' | 'audit' | 'admins';

export class AdminSession {
  lang = $state<Lang>(localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'ko');
  t = $derived(adminStrings[this.lang]);
  me = $state.raw<AdminIdentity | null>(null);
  institutions = $state.raw<Institution[]>([]);
  tasks = $state.raw<Task[]>([]);
  error = $state.raw<ExplainedError | null>(null);
  /** A raw error kept so it is re-explained when the language changes. */
  private rawError: unknown = null;
  screen = $state<Screen>('tasks');
  selectedTask = $state<string | null>(null);
  /** Bumped after every change so open screens reload their own data. */
  version = $state(0);
  /** Whether the last sign-in was refused (the locked-out help is shown). */
  refused = $state(false);

  setLang(lang: Lang) {
    this.lang = lang;
    localStorage.setItem(LANG_KEY, lang);
    document.documentElement.lang = lang;
    if (this.rawError !== null) this.error = explainError(this.rawError, lang);
  }

  showError(e: unknown) {
    this.rawError = e;
    this.error = explainError(e, this.lang);
  }

  clearError() {
    this.rawError = null;
    this.error = null;
  }

  async signIn(token: string) {
    tokenStore.set(token.trim());
    await this.refresh();
  }

  signOut() {
    tokenStore.clear();
    this.me = null;
    this.institutions = [];
    this.tasks = [];
    this.selectedTask = null;
    this.screen = 'tasks';
    this.refused = false;
    this.clearError();
  }

  async refresh() {
    if (!tokenStore.get()) return;
    try {
      [this.me, this.institutions, this.tasks] = await Promise.all([
        adminCall<AdminIdentity>('GET', '/v1/admin/me'),
        adminCall<Institution[]>('GET', '/v1/admin/institutions'),
        adminCall<Task[]>('GET', '/v1/admin/tasks'),
      ]);
      this.refused = false;
      this.version++;
    } catch (e) {
      if (e instanceof AdminApiError && e.status === 401) {
        this.me = null;
        this.refused = true;
        tokenStore.clear();
      }
      this.showError(e);
    }
  }

  /** Runs a change on the server, shows a refusal, refreshes either way. Returns the result or undefined. */
  async act<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      const r = await action();
      this.clearError();
      await this.refresh();
      return r;
    } catch (e) {
      this.showError(e);
      await this.refresh();
      return undefined;
    }
  }

  nameOf(id: string): string {
    return this.institutions.find((i) => i.id === id)?.name ?? id;
  }

  when(ms: number | string): string {
    // A formatted string, never mutated: no reactivity needed.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    return new Date(ms).toLocaleString(this.lang === 'ko' ? 'ko-KR' : 'en-GB');
  }
}
