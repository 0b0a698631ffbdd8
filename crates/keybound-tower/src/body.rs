//! The response body: the inner service's, or the layer's own (rejections, metadata).

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a [`crate::KeyboundService`] response: the inner service's body, or the
    /// layer's own answer (a rejection or the metadata document).
    pub struct KeyboundBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner {
            #[pin]
            body: B,
        },
        Local {
            data: Option<Bytes>,
        },
    }
}

impl<B> KeyboundBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        KeyboundBody {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn local(data: Bytes) -> Self {
        KeyboundBody {
            kind: Kind::Local {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// Whether this is the layer's own answer rather than the inner service's body.
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local { .. })
    }
}

impl<B> fmt::Debug for KeyboundBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyboundBody")
            .field("local", &self.is_local())
            .finish_non_exhaustive()
    }
}

impl<B: Body<Data = Bytes>> Body for KeyboundBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Local { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Local { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Local { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}
