// The service's REST endpoints that the settings screen reaches through the console's `settings`
// command (see `Command`: a method, a path under /v1/ and a JSON body, passed to the service as
// they are). One function per endpoint, each with its generated request and response types, so a
// misspelt field or a body sent to the wrong address does not compile.
//
// PATCH bodies are `Partial<Update…>`: the service reads a field left out as "unchanged" (and,
// where the generated type says `T | null | null`, an explicit `null` as "clear it"), while the
// generated types list every field as required.
import { call } from "./api";
import type { AssistantSettings } from "./bindings/AssistantSettings";
import type { AutomationPreview } from "./bindings/AutomationPreview";
import type { AutomationSettings } from "./bindings/AutomationSettings";
import type { PreviewAutomation } from "./bindings/PreviewAutomation";
import type { UpdateAutomationSettings } from "./bindings/UpdateAutomationSettings";
import type { Business } from "./bindings/Business";
import type { BusinessSchedule } from "./bindings/BusinessSchedule";
import type { CannedResponse } from "./bindings/CannedResponse";
import type { CannedResponseId } from "./bindings/CannedResponseId";
import type { ChannelStatus } from "./bindings/ChannelStatus";
import type { CalendarConnection } from "./bindings/CalendarConnection";
import type { CalendarFeed } from "./bindings/CalendarFeed";
import type { CalendarTask } from "./bindings/CalendarTask";
import type { CalendarTaskId } from "./bindings/CalendarTaskId";
import type { CalendarFeedId } from "./bindings/CalendarFeedId";
import type { CreatedCalendarFeed } from "./bindings/CreatedCalendarFeed";
import type { CreateCannedResponse } from "./bindings/CreateCannedResponse";
import type { CreatedInvitation } from "./bindings/CreatedInvitation";
import type { CreateInvitation } from "./bindings/CreateInvitation";
import type { CreateScheduleException } from "./bindings/CreateScheduleException";
import type { CreateService } from "./bindings/CreateService";
import type { FailedWebhook } from "./bindings/FailedWebhook";
import type { HoursCheck } from "./bindings/HoursCheck";
import type { Invitation } from "./bindings/Invitation";
import type { InvitationId } from "./bindings/InvitationId";
import type { RetellChannelSetup } from "./bindings/RetellChannelSetup";
import type { ScheduleException } from "./bindings/ScheduleException";
import type { ScheduleExceptionId } from "./bindings/ScheduleExceptionId";
import type { Service } from "./bindings/Service";
import type { ServiceId } from "./bindings/ServiceId";
import type { SettingsMethod } from "./bindings/SettingsMethod";
import type { Staff } from "./bindings/Staff";
import type { StaffId } from "./bindings/StaffId";
import type { TwilioChannelSetup } from "./bindings/TwilioChannelSetup";
import type { UpdateAssistantSettings } from "./bindings/UpdateAssistantSettings";
import type { UpdateBusiness } from "./bindings/UpdateBusiness";
import type { UpdateBusinessSchedule } from "./bindings/UpdateBusinessSchedule";
import type { WeeklyHours } from "./bindings/WeeklyHours";
import type { UpdateService } from "./bindings/UpdateService";
import type { UpdateStaff } from "./bindings/UpdateStaff";
import type { VapiChannelSetup } from "./bindings/VapiChannelSetup";
import type { WhatsappChannelSetup } from "./bindings/WhatsappChannelSetup";
import type { JsonValue } from "./bindings/serde_json/JsonValue";
import type { SetupProgress } from "./bindings/SetupProgress";
import type { SetupState } from "./bindings/SetupState";
import type { SetupStep } from "./bindings/SetupStep";
import type { Page } from "./bindings/Page";

/** One request. The console hands back the service's JSON unchanged (`null` for 204 No Content),
 * so the answer is the endpoint's documented response type. */
async function request<Answer extends JsonValue>(method: SettingsMethod, path: string, body: JsonValue | null = null): Promise<Answer> {
  const answer = await call({ cmd: "settings", method, path, body });
  return answer as Answer;
}

/** Every item of a list. Each list of the service answers one page, `{items, next_cursor}`
 * (`?cursor=…&limit=…`, at most 200 a page); this follows `next_cursor` to the end. */
export async function listAll<Item extends JsonValue>(path: string): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "?limit=200" : `?limit=200&cursor=${encodeURIComponent(cursor)}`;
    const page: Page<Item> = await request<Page<Item>>("get", `${path}${query}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return items;
}

export const schedule = {
  get: () => request<BusinessSchedule>("get", "/v1/schedule"),
  update: (changes: Partial<UpdateBusinessSchedule>) => request<BusinessSchedule>("patch", "/v1/schedule", changes),
  /** What saving these hours would refuse, in the service's words (saves nothing). */
  checkHours: (hours: WeeklyHours) => request<HoursCheck>("post", "/v1/schedule/check-hours", hours),
};

export const scheduleExceptions = {
  list: () => listAll<ScheduleException>("/v1/schedule-exceptions"),
  create: (exception: CreateScheduleException) => request<ScheduleException>("post", "/v1/schedule-exceptions", exception),
  remove: (id: ScheduleExceptionId) => request<null>("delete", `/v1/schedule-exceptions/${id}`),
};

export const services = {
  list: () => listAll<Service>("/v1/services"),
  create: (service: CreateService) => request<Service>("post", "/v1/services", service),
  update: (id: ServiceId, changes: Partial<UpdateService>) => request<Service>("patch", `/v1/services/${id}`, changes),
  remove: (id: ServiceId) => request<null>("delete", `/v1/services/${id}`),
};

export const staff = {
  list: () => listAll<Staff>("/v1/staff"),
  update: (id: StaffId, changes: Partial<UpdateStaff>) => request<Staff>("patch", `/v1/staff/${id}`, changes),
  /** Deactivates (the service keeps the person, inactive, and answers with them). */
  deactivate: (id: StaffId) => request<Staff>("delete", `/v1/staff/${id}`),
};

export const invitations = {
  list: () => listAll<Invitation>("/v1/invitations"),
  create: (invitation: CreateInvitation) => request<CreatedInvitation>("post", "/v1/invitations", invitation),
  withdraw: (id: InvitationId) => request<null>("delete", `/v1/invitations/${id}`),
};

export const cannedResponses = {
  list: () => listAll<CannedResponse>("/v1/canned-responses"),
  create: (canned: CreateCannedResponse) => request<CannedResponse>("post", "/v1/canned-responses", canned),
  remove: (id: CannedResponseId) => request<null>("delete", `/v1/canned-responses/${id}`),
};

export const assistant = {
  get: () => request<AssistantSettings>("get", "/v1/assistant"),
  update: (changes: Partial<UpdateAssistantSettings>) => request<AssistantSettings>("patch", "/v1/assistant", changes),
};

/** What connecting each channel takes (`PUT /v1/channels/{kind}`). */
export interface ChannelSetups {
  whatsapp: WhatsappChannelSetup;
  twilio: TwilioChannelSetup;
  vapi: VapiChannelSetup;
  retell: RetellChannelSetup;
}
export type ChannelKind = keyof ChannelSetups;
export const CHANNEL_KINDS: readonly ChannelKind[] = ["whatsapp", "twilio", "vapi", "retell"];

/** Every kind the service knows answers `GET|PUT|DELETE /v1/channels/{kind}`. */
export function isChannelKind(kind: string): kind is ChannelKind {
  return (CHANNEL_KINDS as readonly string[]).includes(kind);
}

export const channels = {
  list: () => listAll<ChannelStatus>("/v1/channels"),
  connect: <K extends ChannelKind>(kind: K, setup: ChannelSetups[K]) => request<ChannelStatus>("put", `/v1/channels/${kind}`, setup),
  /** One channel's set-up without secrets. */
  get: (kind: ChannelKind) => request<ChannelStatus>("get", `/v1/channels/${kind}`),
  /** Owners and admins, after a recent re-authentication (`reauthentication_required` otherwise). */
  disconnect: (kind: ChannelKind) => request<null>("delete", `/v1/channels/${kind}`),
};

export const calendarFeeds = {
  list: () => listAll<CalendarFeed>("/v1/calendar-feeds"),
  create: (staff_id: StaffId | null) => request<CreatedCalendarFeed>("post", "/v1/calendar-feeds", { staff_id }),
  revoke: (id: CalendarFeedId) => request<null>("delete", `/v1/calendar-feeds/${id}`),
};

export const automations = {
  get: () => request<AutomationSettings>("get", "/v1/automations"),
  update: (changes: Partial<UpdateAutomationSettings>) => request<AutomationSettings>("patch", "/v1/automations", changes),
  preview: (req: PreviewAutomation) => request<AutomationPreview>("post", "/v1/automations/preview", req),
};

/** A staff member's Google Calendar (connecting goes through the console: `google_calendar_connect`). */
export const googleCalendar = {
  get: (staffId: StaffId) => request<CalendarConnection>("get", `/v1/staff/${staffId}/google-calendar`),
  choose: (staffId: StaffId, calendar_ids: string[]) => request<CalendarConnection>("put", `/v1/staff/${staffId}/google-calendar/calendars`, { calendar_ids }),
  disconnect: (staffId: StaffId) => request<null>("delete", `/v1/staff/${staffId}/google-calendar`),
};

/** Bookings moved or deleted in Google Calendar: apply the change (through the booking rules; the
 * customer is told), or dismiss it (our booking is written back into Google). */
export const calendarTasks = {
  apply: (id: CalendarTaskId) => request<CalendarTask>("post", `/v1/calendar-tasks/${id}/apply`),
  dismiss: (id: CalendarTaskId) => request<CalendarTask>("post", `/v1/calendar-tasks/${id}/dismiss`),
};

/** Webhooks acknowledged but not processed, kept with their reason (owners and admins); a retry
 * puts one back in the queue (202, no body). */
export const webhookEvents = {
  failed: () => listAll<FailedWebhook>("/v1/webhook-events/failed"),
  retry: (id: string) => request<null>("post", `/v1/webhook-events/${encodeURIComponent(id)}/retry`),
};

/** The business itself: its name, time zone (the Reports screen's days are its local days) and currency. */
export const business = {
  get: () => request<Business>("get", "/v1/business"),
  update: (changes: Partial<UpdateBusiness>) => request<Business>("patch", "/v1/business", changes),
};

/** The first-run setup of a new business, kept by the service (it follows the owner to another computer). */
export const setup = {
  get: () => request<SetupProgress>("get", "/v1/setup"),
  mark: (step: SetupStep, state: SetupState) => request<SetupProgress>("patch", "/v1/setup", { step, state }),
};
