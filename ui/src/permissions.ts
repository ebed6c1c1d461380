// What the signed-in person may do is the service's rule alone: it sends their permission names
// (at sign-in, and in every sync welcome, so a role change shows without signing in again) and
// the console shows or hides by those names. Nothing here looks at the role.
import type { Permission } from "./bindings/Permission";
import type { Role } from "./bindings/Role";

export type View = "inbox" | "calendar" | "reports" | "settings" | "setup" | "account";

export const can = (permissions: readonly Permission[], permission: Permission) => permissions.includes(permission);

/** The settings tabs, each with the permission the service asks for what it edits. */
export const SETTINGS_TABS = [
  ["Opening hours", "manage_business"],
  ["Services", "manage_catalog"],
  ["Staff", "manage_staff"],
  ["Canned responses", "manage_catalog"],
  ["Assistant", "manage_business"],
  ["Automations", "manage_business"],
  ["Channels", "manage_business"],
  ["Google Calendar", "manage_staff"],
  ["Calendar feeds", "manage_staff"],
  ["Retention", "manage_business"],
  ["Audit log", "manage_business"],
] as const satisfies readonly (readonly [string, Permission])[];

export type SettingsTab = (typeof SETTINGS_TABS)[number][0];

export function settingsTabs(permissions: readonly Permission[]): SettingsTab[] {
  return SETTINGS_TABS.filter(([, needs]) => can(permissions, needs)).map(([tab]) => tab);
}

/** The top-level views this person gets (everyone has their own account screen). */
export function views(permissions: readonly Permission[]): View[] {
  const shown: View[] = ["inbox", "calendar"];
  if (can(permissions, "view_reports")) shown.push("reports");
  if (settingsTabs(permissions).length > 0) shown.push("settings");
  // The first-run setup edits the business (shown while steps remain or when resumed).
  if (can(permissions, "manage_business")) shown.push("setup");
  shown.push("account");
  return shown;
}

/** The roles this person may give (owners only with `manage_owners`), in the order offered. */
export function assignableRoles(permissions: readonly Permission[]): Role[] {
  if (!can(permissions, "manage_staff")) return [];
  return can(permissions, "manage_owners") ? ["owner", "admin", "agent"] : ["admin", "agent"];
}

/** Whether this person gets the business's "require two-factor for everyone" switch (owners). */
export const mayRequireTwoFactor = (permissions: readonly Permission[]) => can(permissions, "manage_owners");
