// Reports for owners and admins: headline tiles beside the previous period, the figures per day
// as charts, filters by date range (the business's local days), channel and person; every tile
// and chart day clicks through to the conversations, bookings or calls behind it (a conversation
// or booking opens in the inbox or on the calendar); CSV exports; the definitions of every figure. The service computes the figures
// (`report*` commands, so this needs the network); offline, the last figures fetched are shown
// with the time they were fetched.
//
// Charts: uPlot — about 50 KB, no dependencies, maintained, canvas-drawn and fast on a year of
// daily points; made for time series like these, which is all this screen draws. (Chart.js is
// four times the size for kinds of chart we do not use.)
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import metricsDoc from "../../docs/metrics.md?raw";
import { call, ConsoleError } from "./api";
import type { Directory } from "./bindings/Directory";
import type { ReportAnswer } from "./bindings/ReportAnswer";
import type { ReportDay } from "./bindings/ReportDay";
import type { ReportExport } from "./bindings/ReportExport";
import type { ReportFigure } from "./bindings/ReportFigure";
import type { ReportFilter } from "./bindings/ReportFilter";
import type { ReportRows } from "./bindings/ReportRows";
import * as endpoints from "./endpoints";
import { channelLabel } from "./format";
import { saveFile, savedNote } from "./privacy";
import type { Channel } from "./bindings/Channel";
import { PRESETS, TILES, caller, callsOf, dayFilter, dayLabel, delta, exportFor, filterFor, formatDuration, formatMoney, formatValue, freshness, loadProblem, presetRange, rangeLabel, rangeProblem, recoveredLabel, rowCount, series, todayIn, type Preset } from "./reports";

const CHANNELS: Channel[] = ["whatsapp", "twilio_whatsapp", "sms", "voice"];

interface Drill {
  title: string;
  filter: ReportFilter;
  figure: ReportFigure;
  rows: ReportRows | null;
  error: string | null;
}

export function Reports({ directory, onOpenConversation, onOpenBooking }: {
  directory: Directory;
  onOpenConversation: (id: string) => void;
  /// Opens a booking on the calendar (its id and start, RFC 3339).
  onOpenBooking: (id: string, start: string) => void;
}) {
  const [timeZone, setTimeZone] = useState<string | null>(null);
  const [preset, setPreset] = useState<Preset | "Custom">("Last 30 days");
  const [custom, setCustom] = useState({ from: "", to: "" });
  const [channel, setChannel] = useState("");
  const [staffId, setStaffId] = useState("");
  const [answer, setAnswer] = useState<ReportAnswer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [drill, setDrill] = useState<Drill | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [showDefinitions, setShowDefinitions] = useState(false);

  // The business's days, not this computer's: its time zone first (offline: this computer's,
  // until the kept figures say otherwise).
  useEffect(() => {
    endpoints.business.get().then(
      (b) => setTimeZone(b.timezone),
      () => setTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone),
    );
  }, []);

  const range = useMemo(() => {
    if (!timeZone) return null;
    return preset === "Custom" ? custom : presetRange(preset, todayIn(timeZone));
  }, [timeZone, preset, custom]);
  const invalid = range ? rangeProblem(range.from, range.to) : null;
  const filter = useMemo(() => (range && !invalid ? filterFor(range, channel, staffId) : null), [range, invalid, channel, staffId]);

  const load = useCallback(async (f: ReportFilter) => {
    setLoading(true);
    try {
      const a = await call({ cmd: "report", filter: f });
      setAnswer(a);
      setProblem(null);
    } catch (e) {
      const err = e as ConsoleError;
      setProblem(loadProblem(err.kind, err.message));
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    if (filter) load(filter);
  }, [filter, load]);

  const openRows = async (title: string, f: ReportFilter, figure: ReportFigure) => {
    setDrill({ title, filter: f, figure, rows: null, error: null });
    try {
      const rows = await call({ cmd: "report_rows", filter: f, figure, previous: false });
      setDrill({ title, filter: f, figure, rows, error: null });
    } catch (e) {
      const err = e as ConsoleError;
      setDrill({ title, filter: f, figure, rows: null, error: err.kind === "offline" ? "The rows behind a figure need the network." : err.message });
    }
  };

  const exportCsv = async (kind: ReportExport, f: ReportFilter, figure: ReportFigure | null = null) => {
    setNote(null);
    try {
      const csv = await call({ cmd: "report_csv", export: kind, filter: f, figure });
      setNote(`Saving ${csv.file_name}…`);
      setNote(savedNote(csv.file_name, await saveFile(csv.file_name, new TextEncoder().encode(csv.csv), "text/csv;charset=utf-8")).text);
    } catch (e) {
      const err = e as ConsoleError;
      setNote(err.kind === "offline" ? "Exports need the network." : err.message);
    }
  };

  const shown = answer?.summary;
  const stale = answer && filter ? freshness(answer, filter) : null;
  // Offline, the figures on screen may be for another filter: click-through asks for theirs.
  const shownFilter = answer?.filter ?? filter;

  return (
    <main className="reports" aria-label="Reports">
      <div className="reports-tools">
        <label>
          Period
          <select aria-label="Period" value={preset} onChange={(e) => {
            const p = e.target.value as Preset | "Custom";
            if (p === "Custom" && range) setCustom(range);
            setPreset(p);
          }}>
            {PRESETS.map((p) => <option key={p}>{p}</option>)}
            <option>Custom</option>
          </select>
        </label>
        {preset === "Custom" ? (
          <>
            <label>From <input type="date" aria-label="From" value={custom.from} onChange={(e) => setCustom({ ...custom, from: e.target.value })} /></label>
            <label>To <input type="date" aria-label="To" value={custom.to} onChange={(e) => setCustom({ ...custom, to: e.target.value })} /></label>
          </>
        ) : null}
        <label>
          Channel
          <select aria-label="Channel" value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="">All channels</option>
            {CHANNELS.map((c) => <option key={c} value={c}>{c === "twilio_whatsapp" ? "WhatsApp (Twilio)" : channelLabel(c)}</option>)}
          </select>
        </label>
        <label>
          Person
          <select aria-label="Person" value={staffId} onChange={(e) => setStaffId(e.target.value)}>
            <option value="">Everyone</option>
            {directory.staff.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </label>
        <span className="spacer" />
        <button disabled={!shownFilter || answer?.offline} onClick={() => shownFilter && exportCsv("conversations", shownFilter)}>Export conversations (CSV)</button>
        <button disabled={!shownFilter || answer?.offline} onClick={() => shownFilter && exportCsv("bookings", shownFilter)}>Export bookings (CSV)</button>
        <button disabled={!shownFilter || answer?.offline} onClick={() => shownFilter && exportCsv("calls", shownFilter)}>Export calls (CSV)</button>
        <button className="link" aria-expanded={showDefinitions} onClick={() => setShowDefinitions(!showDefinitions)}>
          How figures are counted{shown ? ` (v${shown.definitions_version})` : ""}
        </button>
      </div>
      <div className="reports-body">
        {invalid && preset === "Custom" ? <p className="error" role="alert">{invalid}</p> : null}
        {stale ? <p className="stale" role="status" data-testid="report-offline">{stale}</p> : null}
        {problem && !answer ? <p className="error" role="alert" data-testid="report-problem">{problem}</p> : null}
        {problem && answer && !stale ? <p className="error" role="alert">{problem}</p> : null}
        {note ? <p className="muted" role="status">{note}</p> : null}
        {showDefinitions ? <pre className="definitions" aria-label="Definitions">{metricsDoc}</pre> : null}
        {shown ? (
          <>
            <p className="muted">
              {rangeLabel(shown.current.from, shown.current.to)} compared with {rangeLabel(shown.previous.from, shown.previous.to)} · days in {shown.timezone}
              {loading ? " · updating…" : ""}
            </p>
            <div className="tiles">
              {TILES.map((t) => {
                const value = t.value(shown.current);
                const previous = t.value(shown.previous);
                const d = delta(value, previous, t.format, t.better);
                const sub = t.note?.(shown.current);
                return (
                  <button
                    key={t.key}
                    className="tile"
                    data-testid={`tile-${t.key}`}
                    aria-label={`${t.label}: ${formatValue(value, t.format, shown.currency)}`}
                    onClick={() => shownFilter && openRows(t.label, shownFilter, t.figure)}
                    title="Show the rows behind this figure"
                  >
                    <span className="tile-label">{t.label}</span>
                    <span className="tile-value" data-testid="tile-value">{formatValue(value, t.format, shown.currency)}</span>
                    {sub ? <span className="tile-note">{sub}</span> : null}
                    <span className={`delta ${d.tone}`} title={`Previous period: ${formatValue(previous, t.format, shown.currency)}`}>
                      {d.direction === "up" ? "▲ " : d.direction === "down" ? "▼ " : ""}
                      {d.text || "no comparison"}
                    </span>
                  </button>
                );
              })}
            </div>
            <div className="charts">
              <DayChart
                title="Conversations per day"
                days={shown.days}
                lines={[
                  { label: "All", pick: (d) => d.conversations, stroke: "#1d2330" },
                  { label: "Assistant only", pick: (d) => d.handled_by_assistant, stroke: "#5f3dc4" },
                  { label: "Handed over", pick: (d) => d.handed_over, stroke: "#e8590c" },
                  { label: "Taken over", pick: (d) => d.taken_over, stroke: "#2f6fed" },
                ]}
                onPick={(date) => shownFilter && openRows(`Conversations on ${rangeLabel(date, date)}`, dayFilter(shownFilter, date), "conversations")}
              />
              <DayChart
                title="Bookings per day"
                days={shown.days}
                bars
                lines={[{ label: "Bookings", pick: (d) => d.bookings, stroke: "#2b8a3e" }]}
                onPick={(date) => shownFilter && openRows(`Bookings made on ${rangeLabel(date, date)}`, dayFilter(shownFilter, date), "bookings")}
              />
            </div>
            <Breakdowns answer={answer!} />
          </>
        ) : !problem ? (
          <p className="muted">Loading…</p>
        ) : null}
      </div>
      {drill ? (
        <RowsPanel
          drill={drill}
          currency={shown?.currency ?? "GBP"}
          timeZone={shown?.timezone ?? timeZone ?? "UTC"}
          onClose={() => setDrill(null)}
          onOpenConversation={onOpenConversation}
          onOpenBooking={onOpenBooking}
          onExport={(kind) => exportCsv(kind, drill.filter, drill.figure)}
        />
      ) : null}
    </main>
  );
}

function Breakdowns({ answer }: { answer: ReportAnswer }) {
  const s = answer.summary;
  const list = (title: string, items: typeof s.bookings_by_source, money: boolean) => (
    <section className="breakdown">
      <h3>{title}</h3>
      {items.length === 0 ? <p className="muted">None.</p> : (
        <table className="list">
          <tbody>
            {items.map((i) => (
              <tr key={i.key}><th>{i.label}</th><td>{i.count}</td>{money ? <td>{formatMoney(i.value_cents, s.currency)}</td> : null}</tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
  return (
    <div className="breakdowns">
      {list("Conversations by channel", s.conversations_by_channel, false)}
      {list("Bookings by source", s.bookings_by_source, true)}
      {list("Bookings by service", s.bookings_by_service, true)}
      {list("Bookings by person", s.bookings_by_staff, true)}
      <section className="breakdown">
        <h3>People</h3>
        {s.staff.length === 0 ? <p className="muted">Nobody replied in this period.</p> : (
          <table className="list">
            <thead><tr><th>Person</th><th>Conversations</th><th>Replies</th><th>Reply time (median)</th><th>Bookings</th></tr></thead>
            <tbody>
              {s.staff.map((p) => (
                <tr key={p.staff_id}><th>{p.name}</th><td>{p.conversations}</td><td>{p.replies}</td><td>{p.reply_p50_secs === null ? "—" : formatDuration(p.reply_p50_secs)}</td><td>{p.bookings}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

interface Line {
  label: string;
  pick: (d: ReportDay) => number;
  stroke: string;
}

/** A chart of daily figures (uPlot); a click on a day lists that day's rows. */
function DayChart({ title, days, lines, bars = false, onPick }: { title: string; days: ReportDay[]; lines: Line[]; bars?: boolean; onPick: (date: string) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  useEffect(() => {
    const el = box.current;
    if (!el || days.length === 0) return;
    const [xs] = series(days, () => 0);
    const data: uPlot.AlignedData = [xs, ...lines.map((l) => series(days, l.pick)[1])];
    const width = () => Math.max(320, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 200,
        // Half a day either side, so the first and last days' bars are whole.
        scales: { x: { time: false, range: () => [-0.5, days.length - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          { values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && days[i] ? dayLabel(days[i].date) : "")) },
          { values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) },
        ],
        series: [
          { label: "Day", value: (_u, i) => (i == null || !days[i] ? "" : dayLabel(days[i].date)) },
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.stroke,
            width: 2,
            fill: bars ? `${l.stroke}88` : undefined,
            paths: bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
            points: { show: !bars && days.length <= 45 },
          })),
        ],
        cursor: { drag: { x: false, y: false } },
      },
      data,
      el,
    );
    const click = () => {
      const i = plot.cursor.idx;
      if (i != null && days[i]) pick.current(days[i].date);
    };
    plot.over.addEventListener("click", click);
    plot.over.style.cursor = "pointer";
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 200 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.over.removeEventListener("click", click);
      plot.destroy();
    };
  }, [days, lines.length, bars]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <figure className="chart" data-testid="chart">
      <figcaption>{title} <span className="muted">(click a day for its rows)</span></figcaption>
      <div ref={box} />
    </figure>
  );
}

function RowsPanel({ drill, currency, timeZone, onClose, onOpenConversation, onOpenBooking, onExport }: {
  drill: Drill;
  currency: string;
  timeZone: string;
  onClose: () => void;
  onOpenConversation: (id: string) => void;
  onOpenBooking: (id: string, start: string) => void;
  onExport: (kind: ReportExport) => void;
}) {
  const rows = drill.rows;
  const count = rows ? rowCount(rows) : null;
  const calls = rows ? callsOf(rows) : [];
  const time = (at: string) => new Date(at).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone });
  return (
    <aside className="rows-panel" role="dialog" aria-label="Rows behind the figure">
      <header>
        <h2>{drill.title}</h2>
        <span className="muted">{rangeLabel(drill.filter.from, drill.filter.to)}{count === null ? "" : ` · ${count} ${count === 1 ? "row" : "rows"}`}</span>
        <span className="spacer" />
        {rows ? <button onClick={() => onExport(exportFor(drill.figure))}>Export these rows (CSV)</button> : null}
        <button className="link" onClick={onClose} aria-label="Close the rows">×</button>
      </header>
      {drill.error ? <p className="error" role="alert">{drill.error}</p> : null}
      {!rows && !drill.error ? <p className="muted">Loading…</p> : null}
      {rows && count === 0 ? <p className="muted">No rows: this figure is 0 here.</p> : null}
      {rows && rows.conversations.length > 0 ? (
        <table className="list rows">
          <thead><tr><th>Date</th><th>Customer</th><th>Channel</th><th>Handled</th><th>First reply</th><th>People</th><th>Resolved</th></tr></thead>
          <tbody>
            {rows.conversations.map((r) => (
              <tr key={`${r.conversation_id}-${r.opened_at}`} data-testid="report-row" className="clickable" tabIndex={0}
                onClick={() => onOpenConversation(r.conversation_id)}
                onKeyDown={(e) => e.key === "Enter" && onOpenConversation(r.conversation_id)}
                title="Open the conversation">
                <td>{dayLabel(r.date)}{r.reopened ? " (reopened)" : ""}</td>
                <td>{r.customer_name ?? "Unknown"}</td>
                <td>{r.channel}</td>
                <td>{r.handling === "assistant" ? "Assistant only" : r.handling === "handed_over" ? "Handed over" : "Taken over"}</td>
                <td>{r.first_response_secs === null ? "—" : formatDuration(r.first_response_secs)}</td>
                <td>{r.staff.join(", ") || "—"}</td>
                <td>{r.resolved ? "Yes" : "No"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {rows && rows.bookings.length > 0 ? (
        <table className="list rows">
          <thead><tr><th>Made</th><th>Appointment</th><th>Service</th><th>With</th><th>Source</th><th>Value</th><th>Outcome</th></tr></thead>
          <tbody>
            {rows.bookings.map((b) => (
              <tr key={b.booking_id} data-testid="report-row" className="clickable" tabIndex={0}
                onClick={() => onOpenBooking(b.booking_id, b.starts_at)}
                onKeyDown={(e) => e.key === "Enter" && onOpenBooking(b.booking_id, b.starts_at)}
                title="Open the booking on the calendar">
                <td>{dayLabel(b.made_date)}</td>
                <td>{time(b.starts_at)}{b.moves ? ` (moved ${b.moves}×)` : ""}</td>
                <td>{b.service}</td>
                <td>{b.staff}</td>
                <td>{b.source.replace("_", " ")}</td>
                <td>{formatMoney(b.value_cents, currency)}</td>
                <td>{b.outcome.replace("_", "-")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {calls.length > 0 ? (
        <table className="list rows">
          <thead><tr><th>Called</th><th>Caller</th><th>Text-back</th><th>Recovered</th></tr></thead>
          <tbody>
            {calls.map((c) => (
              <tr key={c.call_id} data-testid="report-row">
                <td>{time(c.called_at)}</td>
                <td>{caller(c)}</td>
                <td>{c.text_back_sent_at ? `${time(c.text_back_sent_at)}${c.text_back_channel ? ` (${c.text_back_channel})` : ""}` : "—"}</td>
                <td>{recoveredLabel(c, timeZone)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </aside>
  );
}
