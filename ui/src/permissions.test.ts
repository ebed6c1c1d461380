import { describe, expect, it } from "vitest";
import type { Permission } from "./bindings/Permission";
import { assignableRoles, can, mayRequireTwoFactor, settingsTabs, views } from "./permissions";

// The lists the service sends today for each role (crates/core accounts::permissions); the UI
// must follow the list, whatever role it came with.
const owner: Permission[] = ["handle_conversations", "manage_catalog", "manage_business", "manage_staff", "delete_data", "manage_owners", "view_reports"];
const admin = owner.filter((p) => p !== "manage_owners");
const agent: Permission[] = ["handle_conversations"];

describe("what the signed-in person may open", () => {
  it("shows views and settings tabs by the service's permission names", () => {
    expect(views(agent)).toEqual(["inbox", "calendar", "account"]);
    expect(settingsTabs(agent)).toEqual([]);
    expect(views(admin)).toEqual(["inbox", "calendar", "reports", "settings", "setup", "account"]);
    expect(settingsTabs(admin)).toContain("Staff");
    expect(settingsTabs(owner)).toEqual(settingsTabs(admin));
  });

  it("follows the list, not a role: a list the service widens or narrows shows as it says", () => {
    // Reports alone (say a future "accountant" role): Reports, no Settings.
    expect(views(["view_reports"])).toEqual(["inbox", "calendar", "reports", "account"]);
    // The catalogue alone: Settings with only its tabs.
    expect(settingsTabs(["manage_catalog"])).toEqual(["Services", "Canned responses"]);
    expect(views(["manage_catalog"])).toContain("settings");
    expect(can([], "handle_conversations")).toBe(false);
  });

  it("offers the owner role only to those who may make owners", () => {
    expect(assignableRoles(owner)).toEqual(["owner", "admin", "agent"]);
    expect(assignableRoles(admin)).toEqual(["admin", "agent"]);
    expect(assignableRoles(agent)).toEqual([]);
  });
});

describe("the account screen", () => {
  it("offers the require-two-factor switch by permission, never by role", () => {
    expect(mayRequireTwoFactor(owner)).toBe(true);
    expect(mayRequireTwoFactor(admin)).toBe(false);
    expect(mayRequireTwoFactor(agent)).toBe(false);
    // An admin the service later trusts with owners' matters gets the switch with that list.
    expect(mayRequireTwoFactor([...admin, "manage_owners"])).toBe(true);
  });
});
