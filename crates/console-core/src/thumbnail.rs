//! Small copies of pictures for the timeline, made here (not on the page's main thread) when a
//! picture enters the media cache: at most [`MAX_WIDTH`] × [`MAX_HEIGHT`] pixels with the
//! picture's proportions and its EXIF orientation applied, as JPEG (lossless WebP when the picture
//! is see-through, so a sticker keeps its edges). JPEG, PNG and WebP are read; anything else, or a
//! file that does not decode, has no small copy and the timeline shows the file itself.
//!
//! Decoding is CPU work of tens of milliseconds for a camera photo: call [`make`] from
//! `tokio::task::spawn_blocking`, never on the async runtime.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The timeline's box for a picture, in pixels.
pub const MAX_WIDTH: u32 = 320;
pub const MAX_HEIGHT: u32 = 240;
/// Pictures larger than this (either side) are not decoded at all.
const MAX_SIDE: u32 = 16_384;
/// Memory one decode may use.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 82;

/// A picture's small copy: its bytes, their type and its size in pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub content_type: String,
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why a file has no small copy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoThumbnail {
    #[error("not a picture the console reads (JPEG, PNG or WebP)")]
    NotAPicture,
    #[error("the picture could not be read: {0}")]
    Unreadable(String),
}

/// The largest size with the same proportions that fits in `max_width` × `max_height` (never
/// larger than the picture, never a side of 0).
pub fn fit_within(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width <= max_width && height <= max_height {
        return (width, height);
    }
    let scale = f64::min(f64::from(max_width) / f64::from(width), f64::from(max_height) / f64::from(height));
    let side = |s: u32, max: u32| ((f64::from(s) * scale).round() as u32).clamp(1, max);
    (side(width, max_width), side(height, max_height))
}

/// The small copy of a picture (`content_type` as the service gave it; the bytes decide).
/// A picture already within the box and upright is its own small copy (its bytes as they are).
pub fn make(content_type: &str, bytes: &[u8]) -> Result<Thumbnail, NoThumbnail> {
    let declared = protocol::media_essence(content_type);
    if !declared.starts_with("image/") && !declared.is_empty() && declared != "application/octet-stream" {
        return Err(NoThumbnail::NotAPicture);
    }
    let unreadable = |e: image::ImageError| NoThumbnail::Unreadable(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| NoThumbnail::Unreadable(e.to_string()))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => f,
        _ => return Err(NoThumbnail::NotAPicture),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(NoThumbnail::Unreadable("the picture has no pixels".into()));
    }
    let mut picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    if width <= MAX_WIDTH && height <= MAX_HEIGHT && orientation == image::metadata::Orientation::NoTransforms {
        return Ok(Thumbnail { content_type: format.to_mime_type().to_owned(), data: bytes.to_vec(), width, height });
    }
    picture.apply_orientation(orientation);
    let (w, h) = fit_within(picture.width(), picture.height(), MAX_WIDTH, MAX_HEIGHT);
    let small = if (w, h) == (picture.width(), picture.height()) { picture } else { picture.thumbnail_exact(w, h) };
    let mut data = Vec::new();
    let see_through = small.color().has_alpha() && small.to_rgba8().pixels().any(|p| p.0[3] < 255);
    let content_type = if see_through {
        small.to_rgba8().write_with_encoder(WebPEncoder::new_lossless(&mut data)).map_err(unreadable)?;
        "image/webp"
    } else {
        small.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut data, JPEG_QUALITY)).map_err(unreadable)?;
        "image/jpeg"
    };
    Ok(Thumbnail { content_type: content_type.to_owned(), data, width: w, height: h })
}

/// One small copy made at a time: a timeline scrolled into many new pictures keeps the other
/// core for the window's page (measured in BENCHMARKS.md).
static MAKING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// [`make`] off the async runtime. `None` when there is no small copy (why is logged).
pub async fn make_off_runtime(content_type: &str, bytes: std::sync::Arc<Vec<u8>>) -> Option<Thumbnail> {
    let content_type = content_type.to_owned();
    let _turn = MAKING.acquire().await.ok()?;
    match tokio::task::spawn_blocking(move || make(&content_type, &bytes)).await {
        Ok(Ok(made)) => Some(made),
        Ok(Err(NoThumbnail::NotAPicture)) => None,
        Ok(Err(why)) => {
            tracing::info!(%why, "no thumbnail: the timeline shows the file itself");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "making a thumbnail failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90).write_image(picture.as_raw(), width, height, image::ExtendedColorType::Rgb8).unwrap();
        out
    }

    fn png(picture: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn decoded(t: &Thumbnail) -> DynamicImage {
        image::load_from_memory(&t.data).unwrap()
    }

    #[test]
    fn a_camera_photo_becomes_a_small_jpeg_with_its_proportions() {
        let photo = jpeg(1200, 900);
        let small = make("image/jpeg", &photo).unwrap();
        assert_eq!((small.content_type.as_str(), small.width, small.height), ("image/jpeg", 320, 240));
        let back = decoded(&small);
        assert_eq!((back.width(), back.height()), (320, 240), "the bytes are what they say");
        assert!(small.data.len() < photo.len() / 4, "{} bytes from {}", small.data.len(), photo.len());

        // Upright and wide, tall, and a panorama: each fits the box with its proportions.
        let tall = make("image/jpeg", &jpeg(900, 1600)).unwrap();
        assert_eq!((tall.width, tall.height), (135, 240));
        let panorama = make("image/jpeg", &jpeg(4000, 500)).unwrap();
        assert_eq!((panorama.width, panorama.height), (320, 40));
        let thread = make("image/jpeg", &jpeg(3000, 2)).unwrap();
        assert_eq!((thread.width, thread.height), (320, 1), "never a side of 0");
    }

    #[test]
    fn a_png_is_read_and_a_see_through_one_keeps_its_transparency() {
        let opaque = DynamicImage::ImageRgb8(RgbImage::from_pixel(800, 400, Rgb([10, 200, 30])));
        let small = make("image/png", &png(&opaque)).unwrap();
        assert_eq!((small.content_type.as_str(), small.width, small.height), ("image/jpeg", 320, 160));

        let sticker = DynamicImage::ImageRgba8(RgbaImage::from_fn(640, 640, |x, _| Rgba([255, 0, 0, if x < 320 { 0 } else { 255 }])));
        let small = make("image/png", &png(&sticker)).unwrap();
        assert_eq!((small.content_type.as_str(), small.width, small.height), ("image/webp", 240, 240));
        let back = decoded(&small).to_rgba8();
        assert_eq!(back.get_pixel(10, 100).0[3], 0, "see-through where it was");
        assert_eq!(back.get_pixel(230, 100).0, [255, 0, 0, 255]);
    }

    #[test]
    fn a_picture_already_small_is_its_own_thumbnail() {
        let icon = png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, Rgb([1, 2, 3]))));
        let small = make("image/png", &icon).unwrap();
        assert_eq!(small, Thumbnail { content_type: "image/png".into(), data: icon, width: 16, height: 16 });
    }

    #[test]
    fn a_tiny_real_png_is_its_own_thumbnail() {
        // The service sandbox's customer photo: 16×16, RGB, 8 bits.
        let photo: &[u8] = &[
            137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 16, 0, 0, 0, 16, 8, 2, 0, 0, 0, 144, 145, 104, 54, 0, 0, 0, 22, 73, 68, 65, 84, 120,
            218, 99, 56, 17, 176, 128, 36, 196, 48, 170, 97, 84, 195, 240, 213, 0, 0, 18, 142, 184, 16, 76, 218, 55, 157, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
        ];
        let small = make("image/png", photo).unwrap();
        assert_eq!((small.content_type.as_str(), small.width, small.height, small.data.as_slice()), ("image/png", 16, 16, photo));
    }

    #[test]
    fn the_bytes_decide_not_the_declared_type() {
        let photo = jpeg(640, 480);
        let small = make("image/png", &photo).unwrap();
        assert_eq!((small.content_type.as_str(), small.width, small.height), ("image/jpeg", 320, 240));
        assert_eq!(make("", &photo).map(|t| t.width), Ok(320));
    }

    #[test]
    fn a_corrupt_or_foreign_file_has_no_thumbnail_and_no_panic() {
        assert_eq!(make("image/jpeg", b"JPEG-BYTES-MEDIA-C1"), Err(NoThumbnail::NotAPicture), "not recognisably a picture");
        assert_eq!(make("application/pdf", b"%PDF-1.4 ..."), Err(NoThumbnail::NotAPicture));
        assert_eq!(make("image/gif", b"GIF89a\x01\x00\x01\x00"), Err(NoThumbnail::NotAPicture), "GIF is not read here");
        assert_eq!(make("image/jpeg", b""), Err(NoThumbnail::NotAPicture));
        // A JPEG cut short after its header, and one whose middle is noise.
        let photo = jpeg(1200, 900);
        assert!(matches!(make("image/jpeg", &photo[..600]), Err(NoThumbnail::Unreadable(_))), "{:?}", make("image/jpeg", &photo[..600]).map(|t| t.width));
        let mut noisy = photo.clone();
        for (i, b) in noisy.iter_mut().enumerate().skip(200).take(4000) {
            *b = (i * 7919 % 251) as u8;
        }
        let noisy = std::panic::catch_unwind(|| make("image/jpeg", &noisy));
        assert!(noisy.is_ok(), "never a panic");
        // A PNG header claiming 100,000 × 100,000 pixels is refused before anything is allocated.
        let mut huge = png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, Rgb([0, 0, 0]))));
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(make("image/png", &huge), Err(NoThumbnail::Unreadable(_))));
    }

    #[test]
    fn fitting_keeps_proportions_and_never_grows() {
        assert_eq!(fit_within(1200, 900, 320, 240), (320, 240));
        assert_eq!(fit_within(900, 1600, 320, 240), (135, 240));
        assert_eq!(fit_within(4000, 1000, 320, 240), (320, 80));
        assert_eq!(fit_within(16, 16, 320, 240), (16, 16));
        assert_eq!(fit_within(10_000, 1, 320, 240), (320, 1));
    }
}
