-- The timeline's small copy of each picture in the media cache, made by the console core when
-- the file is kept (at most 320×240, JPEG or lossless WebP; a picture already that small is its
-- own copy), so the page never decodes and scales a full photo. `thumbnail_made` is 0 for files
-- kept before this migration (made when first asked for); a made row with no `thumbnail` is a
-- file that has none (not a picture, or one that does not decode): the page shows the file.
ALTER TABLE media_cache ADD COLUMN thumbnail BLOB;
ALTER TABLE media_cache ADD COLUMN thumbnail_type TEXT;
ALTER TABLE media_cache ADD COLUMN thumbnail_width INTEGER;
ALTER TABLE media_cache ADD COLUMN thumbnail_height INTEGER;
ALTER TABLE media_cache ADD COLUMN thumbnail_made INTEGER NOT NULL DEFAULT 0;
