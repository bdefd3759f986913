//! Writing the XML the AWS query protocol answers with (IAM, STS, SNS).

/// An XML document under construction; text is escaped as it goes in.
#[derive(Default)]
pub struct Xml {
    out: String,
}

/// Escapes text for element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// The document `<name>text</name>` alone.
    pub fn element(name: &str, text: &str) -> String {
        let mut x = Xml::new();
        x.leaf(name, text);
        x.finish()
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name)
    }

    /// A leaf only when there is text.
    pub fn leaf_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// `<name><member>…</member>…</name>`, each member written by `each`.
    pub fn list<T>(&mut self, name: &str, items: &[T], mut each: impl FnMut(&mut Xml, &T)) -> &mut Self {
        self.open(name);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(name)
    }

    /// `<name><member>text</member>…</name>`.
    pub fn list_text(&mut self, name: &str, items: &[impl AsRef<str>]) -> &mut Self {
        self.open(name);
        for item in items {
            self.leaf("member", item.as_ref());
        }
        self.close(name)
    }

    /// What was written.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_elements_and_lists() {
        let mut x = Xml::new();
        x.open("R").leaf("A", "a<&>\"'").list("L", &["1", "2"], |x, v| {
            x.leaf("V", v);
        });
        x.close("R");
        assert_eq!(
            x.finish(),
            "<R><A>a&lt;&amp;&gt;&quot;&apos;</A><L><member><V>1</V></member><member><V>2</V></member></L></R>"
        );
    }
}
