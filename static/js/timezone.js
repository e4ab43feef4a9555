/* soraweb: tells the server this browser's time zone, so times are shown in it.
 *
 * The zone goes in a cookie that the server reads (soraweb/zones.py): the first signed-in page
 * that carries it keeps it as the person's zone, unless they already have one. A static file,
 * not an inline script, so the Content-Security-Policy stays script-src 'self'.
 */
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  var value = encodeURIComponent(zone);
  if (document.cookie.indexOf("soraweb_tz=" + value) !== -1) return;
  document.cookie = "soraweb_tz=" + value + "; path=/; max-age=31536000; samesite=lax"
    + (location.protocol === "https:" ? "; secure" : "");
})();
