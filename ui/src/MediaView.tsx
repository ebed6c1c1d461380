// One file in the timeline: a picture, a PDF, a player for voice notes and call recordings, or a
// link. Loaded when it scrolls into view (a long timeline does not fetch every file at once),
// from the console core, which answers from this computer's copy when there is one. A picture
// shows as its small copy, made by the console core when it kept the file, in a box of fixed
// size: an `<img>` of the file's address (`fileAddress`), which the web engine loads lazily and
// decodes off the page's main thread, so nothing is unpacked, decoded or laid out again on the
// page while scrolling; clicking it opens the full picture.
import { useEffect, useRef, useState } from "react";
import { call, ConsoleError, fileAddress } from "./api";
import { byAddress, shownAs, toBlob, type Shownfile } from "./media";

const problemOf = (e: unknown) => (e instanceof ConsoleError && e.kind === "offline" ? "Not available offline yet" : "Could not load the file");

export function MediaView({ file }: { file: Shownfile }) {
  const [url, setUrl] = useState<string | null>(null);
  const small = byAddress(file) ? fileAddress("small", file.messageId, file.path) : null;
  const [type, setType] = useState(file.contentType);
  const [problem, setProblem] = useState<string | null>(null);
  // The small copy's address answered no picture (not kept here and the service out of reach).
  const [broken, setBroken] = useState(false);
  // A picture is loaded by the web engine as it comes near the view (`loading="lazy"`).
  const [visible, setVisible] = useState(typeof IntersectionObserver === "undefined" || small !== null);
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  // Object URLs made for this file, let go when it leaves the page.
  const made = useRef<string[]>([]);
  useEffect(() => () => made.current.forEach((u) => URL.revokeObjectURL(u)), []);

  useEffect(() => {
    if (visible || !box.current) return;
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setVisible(true);
    }, { rootMargin: "400px" });
    seen.observe(box.current);
    return () => seen.disconnect();
  }, [visible]);

  /** The file itself (a picture's full size). */
  const loadFull = (isGone: () => boolean) =>
    call({ cmd: "media", path: file.path }).then(
      (data) => {
        if (isGone()) return;
        const full = URL.createObjectURL(toBlob(data));
        made.current.push(full);
        setType(data.content_type);
        setUrl(full);
      },
      (e) => !isGone() && setProblem(problemOf(e)),
    );

  useEffect(() => {
    if (!visible || small) return;
    let gone = false;
    const isGone = () => gone;
    loadFull(isGone);
    return () => {
      gone = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [visible, file.path]);

  const openFull = () => {
    setOpen(true);
    if (!url) loadFull(() => false);
  };

  useEffect(() => {
    if (!open) return;
    const close = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    window.addEventListener("keydown", close);
    return () => window.removeEventListener("keydown", close);
  }, [open]);

  const shown = shownAs(type === "audio/*" ? "audio/wav" : type);
  const name = file.filename ?? { image: "Photo", pdf: "PDF", audio: "Voice note", video: "Video", file: "File" }[shown];
  return (
    <div className={`media ${shown}`} ref={box} data-testid="media" data-shown={shown}>
      {broken ? (
        <span className="muted">{name}: Could not load the file (it shows once the service can be reached)</span>
      ) : problem && !small ? (
        <span className="muted">{name}: {problem}</span>
      ) : small ? (
        <button type="button" className="media-open" onClick={openFull} title={`Open ${name}`} aria-label={`Open ${name}`}>
          <img
            src={small}
            width={320}
            height={240}
            loading="lazy"
            decoding="async"
            alt={file.caption ?? name}
            onError={() => setBroken(true)}
          />
        </button>
      ) : !url ? (
        <span className="muted media-loading">{name}…</span>
      ) : shown === "image" ? (
        <img src={url} alt={file.caption ?? name} loading="lazy" />
      ) : shown === "audio" ? (
        <audio controls src={url} aria-label={name} preload="metadata" />
      ) : shown === "video" ? (
        <video controls src={url} aria-label={name} preload="metadata" />
      ) : shown === "pdf" ? (
        <iframe src={url} title={name} />
      ) : null}
      {small && !broken ? (
        <button type="button" className="link media-name" onClick={openFull}>{name}</button>
      ) : url ? (
        <a className="media-name" href={url} download={file.filename ?? undefined}>{name}</a>
      ) : null}
      {open ? (
        <div className="modal-backdrop media-viewer" role="dialog" aria-label={name} onClick={() => setOpen(false)}>
          <figure onClick={(e) => e.stopPropagation()}>
            {url ? <img src={url} alt={file.caption ?? name} data-testid="media-full" /> : <span className="muted">{problem ? `${name}: ${problem}` : `${name}…`}</span>}
            <figcaption>
              {url ? <a href={url} download={file.filename ?? undefined}>Save {name}</a> : null}
              <button type="button" onClick={() => setOpen(false)}>Close</button>
            </figcaption>
          </figure>
        </div>
      ) : null}
    </div>
  );
}
