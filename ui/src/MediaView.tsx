// One file in the timeline: a picture, a PDF, a player for voice notes and call recordings, or a
// link. Loaded when it scrolls into view (a long timeline does not fetch every file at once),
// from the console core, which answers from this computer's copy when there is one. A picture
// shows as its small copy, made by the console core when it kept the file (nothing is decoded or
// scaled on the page while scrolling); clicking it opens the full picture.
import { useEffect, useRef, useState } from "react";
import { call, ConsoleError } from "./api";
import { firstAsk, shownAs, toBlob, type Shownfile } from "./media";

const problemOf = (e: unknown) => (e instanceof ConsoleError && e.kind === "offline" ? "Not available offline yet" : "Could not load the file");

export function MediaView({ file }: { file: Shownfile }) {
  const [url, setUrl] = useState<string | null>(null);
  const [small, setSmall] = useState<{ url: string; width: number; height: number } | null>(null);
  const [type, setType] = useState(file.contentType);
  const [problem, setProblem] = useState<string | null>(null);
  const [visible, setVisible] = useState(typeof IntersectionObserver === "undefined");
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
    if (!visible) return;
    let gone = false;
    const isGone = () => gone;
    if (firstAsk(file) === "thumbnail") {
      call({ cmd: "thumbnail", path: file.path }).then(
        (thumb) => {
          if (gone) return;
          // No small copy (not a picture the core reads): the file itself, as it is.
          if (!thumb) return loadFull(isGone);
          const smallUrl = URL.createObjectURL(toBlob(thumb));
          made.current.push(smallUrl);
          setSmall({ url: smallUrl, width: thumb.width, height: thumb.height });
        },
        (e) => !gone && setProblem(problemOf(e)),
      );
    } else {
      loadFull(isGone);
    }
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
      {problem && !small ? (
        <span className="muted">{name}: {problem}</span>
      ) : small ? (
        <button type="button" className="media-open" onClick={openFull} title={`Open ${name}`} aria-label={`Open ${name}`}>
          <img src={small.url} width={small.width} height={small.height} alt={file.caption ?? name} />
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
      {small ? (
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
