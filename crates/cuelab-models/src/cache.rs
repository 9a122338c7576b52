//! SQLite embedding cache, so sweeps and reruns never recompute an embedding.
//!
//! Key: (model id — which embeds a prefix of the weights' SHA-256 —, preprocessing key, kind
//! `image`/`text`, SHA-256 of the content (RGB8 pixels with their size, or UTF-8 text), cue spec).
//! The database runs in WAL mode and every batch of inserts is one transaction, so a killed
//! process leaves either the whole batch or none of it.
//!
//! A second table, `image_files`, maps an image file's identity (SHA-256 of its bytes, with the
//! [decoder tag](DECODER_TAG)) to the content hash of its decoded pixels, so that a resumed run can
//! find an image's embeddings from the file bytes without decoding it. A cache written before the
//! table existed gets it (empty) on open and is filled as images are decoded.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::weights::hex;
use crate::{ImageEmbedder, ImageTextScorer};

/// What an embedding is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image.
    Image,
    /// A text.
    Text,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Text => "text",
        }
    }
}

/// One cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// Model id (includes the weights hash).
    pub model: String,
    /// Preprocessing key (empty for texts).
    pub preprocess: String,
    /// Image or text.
    pub kind: Kind,
    /// SHA-256 of the content.
    pub content: String,
    /// Cue specification (empty when none).
    pub cue: String,
}

/// SHA-256 of an RGB8 image's size and pixels.
pub fn image_hash(img: &RgbImage) -> String {
    let mut h = Sha256::new();
    h.update(img.width().to_le_bytes());
    h.update(img.height().to_le_bytes());
    h.update(img.as_raw());
    hex(&h.finalize())
}

/// SHA-256 of an image file's bytes (its identity in the `image_files` table).
pub fn file_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Which decoder produced the pixels recorded for a file: the file-to-pixels table is keyed on
/// it, so a change of decoder that can change pixels (bump it then) never reuses an old mapping.
pub const DECODER_TAG: &str = "cuelab-cue decode_rgb, image 0.25, v1";

/// SHA-256 of a text.
pub fn text_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The embedding cache.
#[derive(Debug)]
pub struct EmbeddingCache {
    conn: Connection,
    path: PathBuf,
}

impl EmbeddingCache {
    /// Open (creating if needed) a cache database.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let err = cache_error(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(&err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS embeddings (
                model TEXT NOT NULL,
                preprocess TEXT NOT NULL,
                kind TEXT NOT NULL,
                content TEXT NOT NULL,
                cue TEXT NOT NULL,
                dim INTEGER NOT NULL,
                vec BLOB NOT NULL,
                PRIMARY KEY (model, preprocess, kind, content, cue)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS image_files (
                file TEXT NOT NULL,
                decoder TEXT NOT NULL,
                content TEXT NOT NULL,
                PRIMARY KEY (file, decoder)
            ) WITHOUT ROWID;",
        )
        .map_err(&err)?;
        Ok(EmbeddingCache {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        cache_error(&self.path)
    }

    /// Look one key up.
    pub fn get(&self, key: &CacheKey) -> Result<Option<Vec<f32>>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT vec FROM embeddings WHERE model=?1 AND preprocess=?2 AND kind=?3 AND content=?4 AND cue=?5",
            )
            .map_err(self.err())?;
        let blob: Option<Vec<u8>> = stmt
            .query_row(
                params![
                    key.model,
                    key.preprocess,
                    key.kind.as_str(),
                    key.content,
                    key.cue
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        Ok(blob.map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }))
    }

    /// Store many embeddings in one transaction.
    pub fn put_many(&mut self, items: &[(CacheKey, Vec<f32>)]) -> Result<()> {
        let err = cache_error(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO embeddings (model, preprocess, kind, content, cue, dim, vec)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(&err)?;
            for (k, v) in items {
                let blob: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                stmt.execute(params![
                    k.model,
                    k.preprocess,
                    k.kind.as_str(),
                    k.content,
                    k.cue,
                    v.len() as i64,
                    blob
                ])
                .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// The content hash ([`image_hash`]) of the decoded pixels of the file whose bytes hash to
    /// `file` ([`file_hash`]), when an image with these bytes was decoded before by the current
    /// [decoder](DECODER_TAG).
    pub fn file_content(&self, file: &str) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content FROM image_files WHERE file=?1 AND decoder=?2")
            .map_err(self.err())?;
        stmt.query_row(params![file, DECODER_TAG], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Record `(file hash, content hash)` pairs of decoded images in one transaction.
    pub fn put_file_contents(&mut self, items: &[(String, String)]) -> Result<()> {
        let err = cache_error(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO image_files (file, decoder, content) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (file, content) in items {
                stmt.execute(params![file, DECODER_TAG, content])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// The key of an image embedding of `model` for the content hash `content`.
    pub fn image_key(model: &dyn ImageEmbedder, content: &str, cue: &str) -> CacheKey {
        CacheKey {
            model: model.id().to_string(),
            preprocess: model.preprocess().key(),
            kind: Kind::Image,
            content: content.to_string(),
            cue: cue.to_string(),
        }
    }

    /// Delete every entry of one model id; returns how many were removed.
    pub fn clear_model(&self, model: &str) -> Result<usize> {
        self.conn
            .execute("DELETE FROM embeddings WHERE model=?1", params![model])
            .map_err(self.err())
    }

    /// Number of cached embeddings.
    pub fn len(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM embeddings", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Image embeddings through the cache: cached ones are read, the rest computed in one batch
    /// and stored. `cue` is the cue spec applied to the images (empty when none).
    pub fn encode_images(
        &mut self,
        model: &dyn ImageEmbedder,
        images: &[RgbImage],
        cue: &str,
    ) -> Result<Vec<Vec<f32>>> {
        let contents: Vec<String> = images.iter().map(image_hash).collect();
        self.encode_hashed_images(model, images, &contents, cue, None)
    }

    /// As [`encode_images`](Self::encode_images) with the images' content hashes already
    /// computed (`contents[k]` must be [`image_hash`] of `images[k]`) and, when `batch` is set, at
    /// most that many images per forward pass.
    pub fn encode_hashed_images(
        &mut self,
        model: &dyn ImageEmbedder,
        images: &[RgbImage],
        contents: &[String],
        cue: &str,
        batch: Option<usize>,
    ) -> Result<Vec<Vec<f32>>> {
        if contents.len() != images.len() {
            return Err(Error::Invalid(format!(
                "{} content hashes for {} images",
                contents.len(),
                images.len()
            )));
        }
        let keys: Vec<CacheKey> = contents
            .iter()
            .map(|c| Self::image_key(model, c, cue))
            .collect();
        self.through(&keys, |missing| {
            let todo: Vec<RgbImage> = missing.iter().map(|&i| images[i].clone()).collect();
            match batch {
                Some(b) => model.encode_images_batched(&todo, b),
                None => model.encode_images(&todo),
            }
        })
    }

    /// Text embeddings through the cache.
    pub fn encode_texts(
        &mut self,
        model: &dyn ImageTextScorer,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<CacheKey> = texts
            .iter()
            .map(|t| CacheKey {
                model: model.id().to_string(),
                preprocess: String::new(),
                kind: Kind::Text,
                content: text_hash(t),
                cue: String::new(),
            })
            .collect();
        self.through(&keys, |missing| {
            let todo: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            model.encode_texts(&todo)
        })
    }

    /// Read `keys` from the cache; compute the missing ones with `compute(indices)` in one batch
    /// (one embedding per index, in order) and store them in one transaction.
    fn through(
        &mut self,
        keys: &[CacheKey],
        compute: impl FnOnce(&[usize]) -> Result<Vec<Vec<f32>>>,
    ) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Option<Vec<f32>>> =
            keys.iter().map(|k| self.get(k)).collect::<Result<_>>()?;
        let missing: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            // One event per model call, so that a run's log shows what it computed (the crash
            // tests count these to prove nothing cached is computed twice).
            tracing::debug!(
                computed = missing.len(),
                cached = keys.len() - missing.len(),
                "embedding cache miss: encoding"
            );
            let fresh = compute(&missing)?;
            if fresh.len() != missing.len() {
                return Err(Error::Invalid(format!(
                    "the encoder returned {} embeddings for {} inputs",
                    fresh.len(),
                    missing.len()
                )));
            }
            let items: Vec<(CacheKey, Vec<f32>)> = missing
                .iter()
                .zip(fresh)
                .map(|(&i, v)| (keys[i].clone(), v))
                .collect();
            self.put_many(&items)?;
            for (&i, (_, v)) in missing.iter().zip(items) {
                out[i] = Some(v);
            }
        }
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| Error::Invalid("an embedding is missing after encoding".into()))
            })
            .collect()
    }
}

/// The error of a SQLite call on the cache at `path`.
fn cache_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Cache {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how many images it was asked to embed.
    struct Counting {
        calls: std::cell::Cell<usize>,
        pre: crate::Preprocess,
    }

    impl ImageEmbedder for Counting {
        fn id(&self) -> &str {
            "counting@0"
        }
        fn preprocess(&self) -> &crate::Preprocess {
            &self.pre
        }
        fn embed_dim(&self) -> usize {
            1
        }
        fn encode_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
            self.calls.set(self.calls.get() + images.len());
            Ok(images.iter().map(|im| vec![im.width() as f32]).collect())
        }
    }

    #[test]
    fn second_pass_is_served_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = EmbeddingCache::open(&dir.path().join("c.sqlite")).expect("open");
        let m = Counting {
            calls: std::cell::Cell::new(0),
            pre: crate::Preprocess::clip(crate::Pipeline::Openai, 224),
        };
        let a = RgbImage::new(3, 2);
        let b = RgbImage::new(5, 2);
        let out = cache
            .encode_images(&m, &[a.clone(), b.clone()], "")
            .expect("enc");
        assert_eq!(out, vec![vec![3.0], vec![5.0]]);
        assert_eq!(m.calls.get(), 2);
        let out = cache.encode_images(&m, &[b, a.clone()], "").expect("enc");
        assert_eq!(out, vec![vec![5.0], vec![3.0]]);
        assert_eq!(m.calls.get(), 2, "no recomputation");
        // another cue spec is another key
        cache.encode_images(&m, &[a], "circle").expect("enc");
        assert_eq!(m.calls.get(), 3);
    }

    #[test]
    fn put_get_clear_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub/cache.sqlite");
        let key = |m: &str, c: &str| CacheKey {
            model: m.into(),
            preprocess: "openai:224".into(),
            kind: Kind::Image,
            content: c.into(),
            cue: String::new(),
        };
        {
            let mut c = EmbeddingCache::open(&p).expect("open");
            assert!(c.is_empty().expect("len"));
            c.put_many(&[(key("a", "x"), vec![1.0, 2.0]), (key("b", "x"), vec![3.0])])
                .expect("put");
        }
        let c = EmbeddingCache::open(&p).expect("reopen");
        assert_eq!(c.get(&key("a", "x")).expect("get"), Some(vec![1.0, 2.0]));
        assert_eq!(c.get(&key("a", "y")).expect("get"), None);
        assert_eq!(c.clear_model("a").expect("clear"), 1);
        assert_eq!(c.len().expect("len"), 1);
    }

    #[test]
    fn an_old_cache_without_the_file_table_opens_and_gets_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("old.sqlite");
        {
            // the schema before `image_files` existed, with one embedding
            let conn = Connection::open(&p).expect("open");
            conn.execute_batch(
                "CREATE TABLE embeddings (
                    model TEXT NOT NULL, preprocess TEXT NOT NULL, kind TEXT NOT NULL,
                    content TEXT NOT NULL, cue TEXT NOT NULL, dim INTEGER NOT NULL,
                    vec BLOB NOT NULL, PRIMARY KEY (model, preprocess, kind, content, cue)
                ) WITHOUT ROWID;
                INSERT INTO embeddings VALUES ('m', 'openai:224', 'image', 'px', '', 1,
                    X'0000803F');",
            )
            .expect("old schema");
        }
        let mut c = EmbeddingCache::open(&p).expect("open old");
        let key = CacheKey {
            model: "m".into(),
            preprocess: "openai:224".into(),
            kind: Kind::Image,
            content: "px".into(),
            cue: String::new(),
        };
        assert_eq!(c.get(&key).expect("get"), Some(vec![1.0]));
        let file = file_hash(b"jpeg bytes");
        assert_eq!(c.file_content(&file).expect("lookup"), None);
        c.put_file_contents(&[(file.clone(), "px".into())])
            .expect("put");
        drop(c);
        let c = EmbeddingCache::open(&p).expect("reopen");
        assert_eq!(c.file_content(&file).expect("lookup"), Some("px".into()));
        assert_eq!(c.file_content(&file_hash(b"other")).expect("lookup"), None);
    }
}
