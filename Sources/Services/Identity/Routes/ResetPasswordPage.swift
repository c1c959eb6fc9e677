/// The page behind the reset e-mail's link: no framework, no external resources.
enum ResetPasswordPage {
    static let html = """
    <!doctype html>
    <html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Marketplace — nova senha</title>
    <style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}input,button{font-size:1rem;padding:.5rem;width:100%;margin:.25rem 0}</style>
    </head><body>
    <h1>Nova senha / New password</h1>
    <form id="reset"><label>Senha (mín. 10) / Password (min. 10)<input id="password" type="password" minlength="10" required autocomplete="new-password"></label>
    <button type="submit">Salvar / Save</button></form>
    <p id="result" role="status"></p>
    <script>
    const token = new URLSearchParams(location.search).get("token") || "";
    document.getElementById("reset").addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch("/v1/auth/password-reset/confirm", {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({token, password: document.getElementById("password").value})});
      const result = document.getElementById("result");
      if (response.status === 204) { result.textContent = "Senha alterada. / Password changed."; document.getElementById("reset").remove(); }
      else { const problem = await response.json().catch(() => ({})); result.textContent = problem.detail || problem.title || ("Erro " + response.status); }
    });
    </script></body></html>
    """
}
