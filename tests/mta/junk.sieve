require ["fileinto"];
if anyof (header :is "X-SPOT-Threat-Level" "high",
          header :is "X-Spam" "Yes") {
  fileinto "Junk";
  stop;
}
